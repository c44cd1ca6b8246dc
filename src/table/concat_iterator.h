#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <boost/asio/awaitable.hpp>
#include "corodb/comparator.h"
#include "corodb/result.h"
#include "table/iterator.h"
namespace corodb::table {
struct ConcatFile { uint64_t number; uint64_t size; std::string smallest; std::string largest; };
using FileIteratorFactory = std::function<boost::asio::awaitable<Result<std::unique_ptr<AsyncIterator>>>(const ConcatFile&)>;
std::unique_ptr<AsyncIterator> NewConcatenatingIterator(const Comparator* cmp, std::vector<ConcatFile> files, FileIteratorFactory open);
}
