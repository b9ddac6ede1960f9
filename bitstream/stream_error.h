#pragma once
#include "nlc/errors.h"  // nlc::StreamError is part of the public API
