/* openmcim sim: what the run records for its report (sim_report.c). */
#ifndef OMC_CLI_SIM_REPORT_H
#define OMC_CLI_SIM_REPORT_H

#include <stddef.h>

#include "openmcim/agent.h"

typedef struct sim_cause {
	char name[48];
	unsigned long n;
} sim_cause;

typedef struct sim_sample {
	double t;           /* seconds since the start */
	unsigned long done; /* devices finished */
	unsigned states[OMC_AGENT_STATE_COUNT]; /* devices open, by agent state */
} sim_sample;

typedef struct sim_report_data {
	const sim_sample *samples;
	size_t n_samples;
	const double *lat_ms; /* sorted */
	size_t n_lat;
	const sim_cause *causes;
	size_t n_causes;
	unsigned devices;
} sim_report_data;

/* One self-contained HTML page with four inline SVG charts; 0 on success. */
int sim_report_html(const char *path, const sim_report_data *r);

#endif
