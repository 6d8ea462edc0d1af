/* openmcim: the umbrella header. */
#ifndef OPENMCIM_H
#define OPENMCIM_H

#include "openmcim/aka.h"
#include "openmcim/common.h"
#include "openmcim/cur.h"
#include "openmcim/err.h"
#include "openmcim/factory.h"
#include "openmcim/link.h"
#include "openmcim/log.h"
#include "openmcim/net.h"
#include "openmcim/proto.h"
#include "openmcim/server.h"
#include "openmcim/agent.h"
#include "openmcim/store.h"
#include "openmcim/tre.h"
#include "openmcim/tred.h"
#include "openmcim/util.h"

/* "0.1.0" */
OMC_API const char *omc_version(void);

#endif
