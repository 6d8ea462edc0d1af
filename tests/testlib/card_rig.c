/* The card behind a private pcscd (see card_rig.h). */
#include "card_rig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static bool write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	fputs(text, f);
	return fclose(f) == 0;
}

bool cr_start(card_rig *cr, const char *bin, const char *tag, const char *imsi, const char *k_hex,
	      const char *opc_hex)
{
	char cmd[2048], out[8192], err[8192];
	memset(cr, 0, sizeof *cr);
	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root (unshare -m and mount for a private pcscd)\n", tag);
		return false;
	}
	const char *d = td_dir(tag);
	snprintf(cmd, sizeof cmd,
		 "'%s' factory pki --out '%s/pki' && printf '%%s' '{\"imsi\":\"%s\",\"k\":\"%s\",\"opc\":\"%s\"}' "
		 "> '%s/pcid.json' && '%s' factory device --pki '%s/pki' --out '%s/dev' --pcid '%s/pcid.json' && "
		 "rm '%s/pcid.json'",
		 bin, d, imsi, k_hex, opc_hex, d, bin, d, d, d, d);
	if (tl_run(cmd, out, sizeof out, err, sizeof err) != 0) {
		fprintf(stderr, "factory: %s\n", err);
		return false;
	}
	char devdir[300];
	td_path(devdir, sizeof devdir, "dev");
	td_path(cr->sock, sizeof cr->sock, "tred.sock");
	const char *targv[] = {bin, "tred", "--dir", devdir, "--socket", cr->sock, NULL};
	cr->tred = td_start("tred", targv, NULL);
	if (!td_wait_log(cr->tred, "\"boot_count\"", 10000))
		return false;

	unsigned port = td_free_port();
	char pcdir[300], reader[400], conf[256];
	td_path(pcdir, sizeof pcdir, "pcscd");
	td_path(reader, sizeof reader, "reader.conf");
	snprintf(cmd, sizeof cmd, "mkdir -p '%s' /run/pcscd", pcdir);
	if (tl_run(cmd, NULL, 0, NULL, 0) != 0)
		return false;
	snprintf(conf, sizeof conf,
		 "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x%04X\n"
		 "LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID 0x%04X\n",
		 port, port);
	if (!write_text(reader, conf))
		return false;
	char sh[1200];
	snprintf(sh, sizeof sh,
		 "mount --make-rprivate / && mount --bind '%s' /run/pcscd && exec pcscd -f -d -a -c '%s'", pcdir,
		 reader);
	const char *pargv[] = {"unshare", "-m", "sh", "-c", sh, NULL};
	cr->pcscd = td_start("pcscd", pargv, NULL);
	snprintf(cr->comm, sizeof cr->comm, "%s/pcscd.comm", pcdir);
	char listening[80];
	snprintf(listening, sizeof listening, "Waiting for virtual ICC on port %u", port);
	if (!td_wait_path(cr->comm, 10000) || !td_wait_log(cr->pcscd, listening, 10000)) {
		fprintf(stderr, "pcscd did not come up\n");
		return false;
	}
	char vpcd[64];
	snprintf(vpcd, sizeof vpcd, "127.0.0.1:%u", port);
	const char *cargv[] = {bin, "tred", "card", "--socket", cr->sock, "--vpcd", vpcd, "--log-level", "dbg", NULL};
	for (int tries = 0;; tries++) {
		cr->card = td_start("card", cargv, NULL);
		if (td_wait_log(cr->card, "connected to vpcd", 3000))
			break;
		(void)td_stop(cr->card); /* vpcd may not listen yet */
		if (tries == 20)
			return false;
		usleep(250000);
	}
	/* In when pcscd says so, not at the TCP connect. */
	if (!td_wait_log(cr->pcscd, "Card inserted", 10000))
		return false;
	setenv("PCSCLITE_CSOCK_NAME", cr->comm, 1);
	return true;
}
