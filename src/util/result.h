// Result<T> is part of the public API (include/corodb/result.h).
#pragma once

#include "corodb/result.h"
