# Third-party dependencies, all from Debian 12 packages (tools/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG)
find_package(PkgConfig REQUIRED)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)

find_library(SNAPPY_LIBRARY snappy REQUIRED)
find_path(SNAPPY_INCLUDE_DIR snappy.h REQUIRED)
add_library(corodb_snappy INTERFACE)
target_link_libraries(corodb_snappy INTERFACE ${SNAPPY_LIBRARY})
target_include_directories(corodb_snappy INTERFACE ${SNAPPY_INCLUDE_DIR})

# The real LevelDB: format oracle in tests, baseline in the benchmark. Never linked into the library.
find_library(LEVELDB_LIBRARY leveldb)
find_path(LEVELDB_INCLUDE_DIR leveldb/db.h)
if(LEVELDB_LIBRARY AND LEVELDB_INCLUDE_DIR)
  add_library(corodb_leveldb_oracle INTERFACE)
  target_link_libraries(corodb_leveldb_oracle INTERFACE ${LEVELDB_LIBRARY})
  target_include_directories(corodb_leveldb_oracle INTERFACE ${LEVELDB_INCLUDE_DIR})
endif()

# RocksDB: the benchmark's second baseline (corodb-bench --engines=...,rocksdb). Optional.
find_library(ROCKSDB_LIBRARY rocksdb)
find_path(ROCKSDB_INCLUDE_DIR rocksdb/db.h)
if(ROCKSDB_LIBRARY AND ROCKSDB_INCLUDE_DIR)
  add_library(corodb_rocksdb_baseline INTERFACE)
  target_link_libraries(corodb_rocksdb_baseline INTERFACE ${ROCKSDB_LIBRARY})
  target_include_directories(corodb_rocksdb_baseline INTERFACE ${ROCKSDB_INCLUDE_DIR})
endif()
