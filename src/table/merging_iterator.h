#pragma once
#include <memory>
#include <vector>
#include "corodb/comparator.h"
#include "table/iterator.h"
namespace corodb::table {
std::unique_ptr<AsyncIterator> NewMergingIterator(const Comparator* cmp, std::vector<std::unique_ptr<AsyncIterator>> children);
}
