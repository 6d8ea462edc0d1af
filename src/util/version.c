#include "openmcim/openmcim.h"

const char *omc_version(void)
{
	return OMC_VERSION;
}
