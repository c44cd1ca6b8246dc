// Uses the installed public API only.
#include <cstdio>
#include <cstring>

#include "corodb/comparator.h"
#include "corodb/status.h"

int main() {
  const char* name = corodb::BytewiseComparator()->Name();
  corodb::Status s = corodb::Status::NotFound("consumer", "probe");
  std::printf("%s %s\n", name, s.ToString().c_str());
  return std::strcmp(name, "leveldb.BytewiseComparator") == 0 && s.IsNotFound() ? 0 : 1;
}
