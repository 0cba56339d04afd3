#include "ttest.h"
T_DEFINE_STATE;
