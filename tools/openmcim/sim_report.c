/* openmcim sim --report: one HTML page, no scripts, four inline SVG charts
 * (latency distribution, devices per agent state over time, throughput
 * over time, failures and retries by cause). Only numbers and the fixed
 * names of states and causes go in; cause names are escaped. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sim_report.h"

#define W 640
#define H 240
#define PAD 40

static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
				       "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"};

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '"')
			fputs("&quot;", f);
		else if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
			fputc(*s, f);
	}
}

static void svg_begin(FILE *f, const char *id, const char *title, const char *xlabel, double xmax, double ymax)
{
	fprintf(f, "<h2>%s</h2>\n<svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">\n",
		title, id, W, H);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", W, H);
	fprintf(f, "<path class=\"axis\" d=\"M%d %d L%d %d L%d %d\" stroke=\"#000\" fill=\"none\"/>\n", PAD, PAD / 2,
		PAD, H - PAD, W - PAD / 2, H - PAD);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s (max %.4g)</text>\n", W / 2 - 60, H - 8, xlabel, xmax);
	fprintf(f, "<text x=\"2\" y=\"%d\" font-size=\"11\">%.4g</text>\n", PAD / 2 + 4, ymax);
}

static double px(double x, double xmax)
{
	return PAD + (xmax > 0 ? x / xmax : 0) * (W - PAD - PAD / 2);
}

static double py(double y, double ymax)
{
	return (H - PAD) - (ymax > 0 ? y / ymax : 0) * (H - PAD - PAD / 2);
}

static void latency(FILE *f, const sim_report_data *r)
{
	enum { BINS = 40 };
	unsigned long bin[BINS] = {0};
	double xmax = r->n_lat ? r->lat_ms[r->n_lat - 1] * 1.0001 + 1 : 1;
	unsigned long ymax = 1;
	for (size_t i = 0; i < r->n_lat; i++) {
		size_t b = (size_t)(r->lat_ms[i] / xmax * BINS);
		bin[b < BINS ? b : BINS - 1]++;
	}
	for (size_t b = 0; b < BINS; b++)
		ymax = bin[b] > ymax ? bin[b] : ymax;
	svg_begin(f, "latency", "Provisioning latency (devices per bin)", "ms", xmax, (double)ymax);
	fputs("<path class=\"data\" fill=\"#1f77b4\" stroke=\"none\" d=\"", f);
	for (size_t b = 0; b < BINS; b++) {
		double x0 = px((double)b * xmax / BINS, xmax), x1 = px((double)(b + 1) * xmax / BINS, xmax);
		double y = py((double)bin[b], (double)ymax), y0 = py(0, 1);
		fprintf(f, "M%.1f %.1f H%.1f V%.1f H%.1f Z ", x0, y0, x1 - 1, y, x0);
	}
	fputs("\"/>\n</svg>\n", f);
}

static void states(FILE *f, const sim_report_data *r)
{
	double xmax = r->n_samples ? r->samples[r->n_samples - 1].t : 1;
	unsigned ymax = 1;
	for (size_t i = 0; i < r->n_samples; i++)
		for (size_t s = 0; s < OMC_AGENT_STATE_COUNT; s++)
			ymax = r->samples[i].states[s] > ymax ? r->samples[i].states[s] : ymax;
	svg_begin(f, "states", "Open devices per agent state over time", "s", xmax, ymax);
	for (size_t s = 0; s < OMC_AGENT_STATE_COUNT; s++) {
		fprintf(f, "<path class=\"data\" stroke=\"%s\" fill=\"none\" d=\"", colours[s]);
		for (size_t i = 0; i < r->n_samples; i++)
			fprintf(f, "%c%.1f %.1f ", i ? 'L' : 'M', px(r->samples[i].t, xmax),
				py(r->samples[i].states[s], ymax));
		fputs("\"/>\n", f);
		fprintf(f, "<text x=\"%zu\" y=\"%d\" font-size=\"10\" fill=\"%s\">%s</text>\n", PAD + 5 + (s % 6) * 95,
			PAD / 2 - 8 + (int)(s / 6) * 11, colours[s], omc_agent_state_name((omc_agent_state)s));
	}
	fputs("</svg>\n", f);
}

static void throughput(FILE *f, const sim_report_data *r)
{
	double xmax = r->n_samples ? r->samples[r->n_samples - 1].t : 1, ymax = 1;
	for (size_t i = 1; i < r->n_samples; i++) {
		double dt = r->samples[i].t - r->samples[i - 1].t;
		double v = dt > 0 ? (double)(r->samples[i].done - r->samples[i - 1].done) / dt : 0;
		ymax = v > ymax ? v : ymax;
	}
	svg_begin(f, "throughput", "Throughput (devices finished per second)", "s", xmax, ymax);
	fputs("<path class=\"data\" stroke=\"#2ca02c\" fill=\"none\" d=\"M", f);
	fprintf(f, "%.1f %.1f ", px(0, xmax), py(0, ymax));
	for (size_t i = 1; i < r->n_samples; i++) {
		double dt = r->samples[i].t - r->samples[i - 1].t;
		double v = dt > 0 ? (double)(r->samples[i].done - r->samples[i - 1].done) / dt : 0;
		fprintf(f, "L%.1f %.1f ", px(r->samples[i].t, xmax), py(v, ymax));
	}
	fputs("\"/>\n</svg>\n", f);
}

static void causes(FILE *f, const sim_report_data *r)
{
	unsigned long ymax = 1;
	for (size_t i = 0; i < r->n_causes; i++)
		ymax = r->causes[i].n > ymax ? r->causes[i].n : ymax;
	fprintf(f, "<h2>Failures and retries by cause</h2>\n<svg id=\"causes\" xmlns=\"http://www.w3.org/2000/svg\" "
		   "width=\"%d\" height=\"%zu\">\n",
		W, 30 + 18 * (r->n_causes ? r->n_causes : 1));
	/* An empty run still draws its axis, so the chart is never blank. */
	fprintf(f, "<path class=\"axis\" d=\"M300 10 V%zu\" stroke=\"#000\"/>\n", 20 + 18 * r->n_causes);
	if (!r->n_causes)
		fputs("<text x=\"310\" y=\"24\" font-size=\"11\">none</text>\n", f);
	for (size_t i = 0; i < r->n_causes; i++) {
		double w = (double)r->causes[i].n / (double)ymax * (W - 380);
		fprintf(f, "<text x=\"295\" y=\"%zu\" font-size=\"11\" text-anchor=\"end\">", 24 + 18 * i);
		esc(f, r->causes[i].name);
		fprintf(f, "</text>\n<path class=\"data\" fill=\"#d62728\" d=\"M300 %zu h%.1f v12 h%.1f Z\"/>\n", 14 + 18 * i,
			w + 1, -(w + 1));
		fprintf(f, "<text x=\"%.1f\" y=\"%zu\" font-size=\"11\">%lu</text>\n", 306 + w, 24 + 18 * i,
			r->causes[i].n);
	}
	fputs("</svg>\n", f);
}

int sim_report_html(const char *path, const sim_report_data *r)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>openmcim sim: %u devices</title>\n"
		   "<style>body{font-family:sans-serif;margin:2em}svg{border:1px solid #ccc}</style></head>\n"
		   "<body><h1>openmcim sim: %u devices, %zu provisioned</h1>\n",
		r->devices, r->devices, r->n_lat);
	latency(f, r);
	states(f, r);
	throughput(f, r);
	causes(f, r);
	fputs("</body></html>\n", f);
	bool bad = ferror(f) != 0;
	return fclose(f) == 0 && !bad ? 0 : -1;
}
