// dump-log, dump-table, dump-manifest: one file printed through the
// engine's own readers (log::Reader and WriteBatch, table::Table and
// BlockIter, VersionEdit and VersionSet), without opening the database.
#include <map>
#include <ostream>

#include "db/write_batch_internal.h"
#include "files.h"
#include "format/dbformat.h"
#include "io/file_names.h"
#include "table/block.h"
#include "table/table.h"
#include "table/table_options.h"
#include "version/current_file.h"
#include "version/version_edit.h"
#include "version/version_set.h"

namespace corodb::cli {
namespace {

namespace asio = boost::asio;

// ------------------------------------------------------------------ dump-log

// Prints one batch's updates, numbering them from the batch's sequence.
class BatchPrinter final : public WriteBatch::Handler {
 public:
  BatchPrinter(const Context& ctx, SequenceNumber first) : ctx_(ctx), seq_(first) {}
  void Put(Slice key, Slice value) override {
    if (ctx_.json) {
      Separator();
      json_ += "{\"sequence\":" + std::to_string(seq_) + ",\"op\":\"put\",\"key\":" +
               JsonString(Encode(key, ctx_.key_encoding)) +
               ",\"value\":" + JsonString(Encode(value, ctx_.value_encoding)) + "}";
    } else {
      *ctx_.out << "  " << seq_ << " put " << Encode(key, ctx_.key_encoding) << " => "
                << Encode(value, ctx_.value_encoding) << "\n";
    }
    ++seq_;
  }
  void Delete(Slice key) override {
    if (ctx_.json) {
      Separator();
      json_ += "{\"sequence\":" + std::to_string(seq_) + ",\"op\":\"delete\",\"key\":" +
               JsonString(Encode(key, ctx_.key_encoding)) + "}";
    } else {
      *ctx_.out << "  " << seq_ << " delete " << Encode(key, ctx_.key_encoding) << "\n";
    }
    ++seq_;
  }
  const std::string& json() const { return json_; }

 private:
  void Separator() {
    if (!json_.empty()) json_ += ",";
  }
  const Context& ctx_;
  SequenceNumber seq_;
  std::string json_;
};

Status PrintLogRecord(const Context& ctx, const std::string& path, uint64_t offset,
                      Slice record) {
  WriteBatch batch;
  const std::string where = path + ": offset " + std::to_string(offset);
  if (Status s = WriteBatchInternal::SetContents(&batch, record); !s.ok()) {
    return Status::Corruption(where, s.message());
  }
  const SequenceNumber seq = WriteBatchInternal::Sequence(batch);
  const uint32_t count = WriteBatchInternal::Count(batch);
  if (!ctx.json) {
    *ctx.out << "record at offset " << offset << ": sequence " << seq << ", " << count
             << (count == 1 ? " update, " : " updates, ") << record.size() << " bytes\n";
  }
  BatchPrinter printer(ctx, seq);
  Status s = batch.Iterate(printer);
  if (ctx.json) {
    *ctx.out << "{\"type\":\"record\",\"offset\":" << offset << ",\"sequence\":" << seq
             << ",\"count\":" << count << ",\"bytes\":" << record.size() << ",\"updates\":["
             << printer.json() << "]"
             << (s.ok() ? "" : ",\"error\":" + JsonString(s.ToString())) << "}\n";
  }
  if (!s.ok()) return Status::Corruption(where, s.message());
  return Status::OK();
}

void PrintDrop(const Context& ctx, const LogDrop& drop) {
  if (ctx.json) {
    *ctx.out << "{\"type\":\"damage\",\"offset\":" << drop.offset << ",\"bytes\":" << drop.bytes
             << ",\"error\":" << JsonString(drop.status.ToString()) << "}\n";
  } else {
    *ctx.out << "damage at offset " << drop.offset << ": " << drop.bytes
             << " bytes skipped: " << drop.status.ToString() << "\n";
  }
}

asio::awaitable<Status> DumpLog(const Context& ctx, std::string path) {
  Result<std::unique_ptr<io::FileSystem>> fs = MakeFileSystem(ctx);
  if (!fs.ok()) co_return fs.status();
  Result<std::unique_ptr<io::File>> file = (*fs)->Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  LogWalk walk = co_await WalkLog(
      **file, [&ctx, &path](uint64_t offset, Slice record) {
        return PrintLogRecord(ctx, path, offset, record);
      },
      [&ctx](const LogDrop& drop) { PrintDrop(ctx, drop); });
  if (ctx.json) {
    *ctx.out << "{\"type\":\"end\",\"records\":" << walk.records
             << ",\"torn_tail\":" << (walk.torn_tail ? "true" : "false") << "}\n";
  } else {
    *ctx.out << walk.records << " records";
    if (walk.torn_tail) *ctx.out << "; the damage above is a torn tail (a write cut by a crash)";
    *ctx.out << "\n";
  }
  co_return walk.status;
}

// ---------------------------------------------------------------- dump-table

const char* CompressionName(unsigned char type) {
  switch (type) {
    case 0: return "none";
    case 1: return "snappy";
    default: return "unknown";
  }
}

// What dump-table counts while it walks the blocks (LevelDB's tables carry
// no properties block: these are computed from the entries).
struct TableCounts {
  uint64_t data_blocks = 0;
  uint64_t entries = 0;
  uint64_t deletions = 0;
  uint64_t raw_key_bytes = 0;
  uint64_t raw_value_bytes = 0;
  uint64_t data_bytes = 0;          // stored, trailers excluded
  uint64_t uncompressed_bytes = 0;  // of the data blocks
  std::map<std::string, uint64_t> blocks_by_compression;
  std::string smallest, largest;    // internal keys
  SequenceNumber min_seq = kMaxSequenceNumber, max_seq = 0;
};

void CountEntry(Slice key, Slice value, TableCounts* c) {
  if (c->entries == 0) c->smallest.assign(key);
  c->largest.assign(key);
  ++c->entries;
  c->raw_key_bytes += key.size();
  c->raw_value_bytes += value.size();
  ParsedInternalKey parsed;
  if (ParseInternalKey(key, &parsed)) {
    if (parsed.type == kTypeDeletion) ++c->deletions;
    c->min_seq = std::min(c->min_seq, parsed.sequence);
    c->max_seq = std::max(c->max_seq, parsed.sequence);
  }
}

// Prints one data block and (unless --summary) its entries. Damage in the
// block is printed and returned; the caller goes on with the next block.
asio::awaitable<Status> DumpDataBlock(const Context& ctx, const table::Table& t,
                                      table::BlockHandle handle, Slice separator,
                                      TableCounts* counts) {
  std::ostream& out = *ctx.out;
  const bool entries = !ctx.Has("summary");
  io::AlignedBuffer buf(io::AlignedBuffer::kAlignment);
  Result<Slice> raw = co_await t.ReadRaw(handle.offset(), handle.size() + table::kBlockTrailerSize, &buf);
  if (!raw.ok()) co_return raw.status();
  Result<unsigned char> type = table::StoredBlockType(*raw, handle, /*verify_checksum=*/true, t.file_name());
  Status problem = type.status();
  const char* compression = type.ok() ? CompressionName(*type) : "?";
  if (type.ok()) ++counts->blocks_by_compression[compression];
  ++counts->data_blocks;
  counts->data_bytes += handle.size();
  std::optional<table::Block> block;
  if (problem.ok()) {
    Result<table::Block> decoded = t.DecodeDataBlock(*raw, handle);
    if (decoded.ok()) {
      block.emplace(std::move(*decoded));
    } else {
      problem = decoded.status();
    }
  }
  if (block) counts->uncompressed_bytes += block->size();
  if (ctx.json) {
    out << "{\"type\":\"block\",\"offset\":" << handle.offset() << ",\"size\":" << handle.size()
        << ",\"compression\":\"" << compression << "\",\"checksum\":\""
        << (type.ok() ? "ok" : "bad") << "\",\"index_key\":"
        << InternalKeyJson(separator, ctx.key_encoding);
    if (block) out << ",\"uncompressed_size\":" << block->size();
    if (!problem.ok()) out << ",\"error\":" << JsonString(problem.ToString());
    out << "}\n";
  } else {
    out << "data block at offset " << handle.offset() << ", " << handle.size() << " bytes, "
        << compression;
    if (block) out << " (" << block->size() << " uncompressed)";
    out << ", index key " << InternalKeyText(separator, ctx.key_encoding) << "\n";
    if (!problem.ok()) out << "  damaged: " << problem.ToString() << "\n";
  }
  if (!block) co_return problem;
  table::BlockIter it(&*block, t.comparator(), /*internal_keys=*/true);
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    CountEntry(it.key(), it.value(), counts);
    if (!entries) continue;
    if (ctx.json) {
      out << "{\"type\":\"entry\",\"block\":" << handle.offset()
          << ",\"key\":" << InternalKeyJson(it.key(), ctx.key_encoding)
          << ",\"value\":" << JsonString(Encode(it.value(), ctx.value_encoding)) << "}\n";
    } else {
      out << "  " << InternalKeyText(it.key(), ctx.key_encoding) << " => "
          << Encode(it.value(), ctx.value_encoding) << "\n";
    }
  }
  if (!it.status().ok()) {
    Status s = t.BlockError(handle, it.status());
    out << (ctx.json ? "{\"type\":\"damage\",\"error\":" + JsonString(s.ToString()) + "}\n"
                     : "  damaged: " + s.ToString() + "\n");
    co_return s;
  }
  co_return Status::OK();
}

void PrintTableProperties(const Context& ctx, const table::Table& t, const TableCounts& c,
                          uint64_t filter_bytes, const std::string& filter_name) {
  std::ostream& out = *ctx.out;
  const uint64_t index_bytes = t.footer().index_handle().size();
  if (ctx.json) {
    out << "{\"type\":\"properties\",\"file_size\":" << t.file_size()
        << ",\"data_blocks\":" << c.data_blocks << ",\"entries\":" << c.entries
        << ",\"deletions\":" << c.deletions << ",\"raw_key_bytes\":" << c.raw_key_bytes
        << ",\"raw_value_bytes\":" << c.raw_value_bytes << ",\"data_bytes\":" << c.data_bytes
        << ",\"uncompressed_data_bytes\":" << c.uncompressed_bytes
        << ",\"index_bytes\":" << index_bytes << ",\"filter_policy\":" << JsonString(filter_name)
        << ",\"filter_bytes\":" << filter_bytes << ",\"blocks_by_compression\":{";
    bool first = true;
    for (const auto& [name, n] : c.blocks_by_compression) {
      out << (first ? "" : ",") << JsonString(name) << ":" << n;
      first = false;
    }
    out << "}";
    if (c.entries > 0) {
      out << ",\"smallest\":" << InternalKeyJson(c.smallest, ctx.key_encoding)
          << ",\"largest\":" << InternalKeyJson(c.largest, ctx.key_encoding)
          << ",\"min_sequence\":" << c.min_seq << ",\"max_sequence\":" << c.max_seq;
    }
    out << "}\n";
    return;
  }
  out << "properties (counted from the blocks):\n"
      << "  file size: " << t.file_size() << "\n"
      << "  data blocks: " << c.data_blocks << " (";
  bool first = true;
  for (const auto& [name, n] : c.blocks_by_compression) {
    out << (first ? "" : ", ") << name << ": " << n;
    first = false;
  }
  out << ")\n"
      << "  entries: " << c.entries << " (" << c.deletions << " deletions)\n"
      << "  raw key bytes: " << c.raw_key_bytes << ", raw value bytes: " << c.raw_value_bytes
      << "\n"
      << "  data bytes: " << c.data_bytes << " stored, " << c.uncompressed_bytes
      << " uncompressed\n"
      << "  index bytes: " << index_bytes << "\n"
      << "  filter: " << (filter_name.empty() ? "none" : filter_name) << ", " << filter_bytes
      << " bytes\n";
  if (c.entries > 0) {
    out << "  smallest: " << InternalKeyText(c.smallest, ctx.key_encoding) << "\n"
        << "  largest: " << InternalKeyText(c.largest, ctx.key_encoding) << "\n"
        << "  sequences: " << c.min_seq << " .. " << c.max_seq << "\n";
  }
}

asio::awaitable<Status> DumpTable(const Context& ctx, std::string path) {
  Result<std::unique_ptr<io::FileSystem>> fs = MakeFileSystem(ctx);
  if (!fs.ok()) co_return fs.status();
  Result<uint64_t> size = io::GetFileSize(path);
  if (!size.ok()) co_return size.status();
  Result<std::unique_ptr<io::File>> file = (*fs)->Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  const InternalKeyComparator icmp(BytewiseComparator());
  table::TableOptions options;
  options.comparator = &icmp;
  options.internal_keys = true;
  options.map_resident_pages = false;  // a bad sector fails a read, never SIGBUS
  Result<std::unique_ptr<table::Table>> opened =
      co_await table::Table::Open(options, std::move(*file), *size);
  if (!opened.ok()) co_return opened.status();
  const table::Table& t = **opened;
  std::ostream& out = *ctx.out;

  const table::Footer& footer = t.footer();
  if (ctx.json) {
    out << "{\"type\":\"footer\",\"file_size\":" << *size
        << ",\"metaindex\":{\"offset\":" << footer.metaindex_handle().offset()
        << ",\"size\":" << footer.metaindex_handle().size()
        << "},\"index\":{\"offset\":" << footer.index_handle().offset()
        << ",\"size\":" << footer.index_handle().size() << "}}\n";
  } else {
    out << path << ": " << *size << " bytes\n"
        << "footer: metaindex block at offset " << footer.metaindex_handle().offset() << " ("
        << footer.metaindex_handle().size() << " bytes), index block at offset "
        << footer.index_handle().offset() << " (" << footer.index_handle().size()
        << " bytes)\n";
  }
  Result<std::vector<table::Table::MetaBlock>> meta = co_await t.ReadMetaIndex();
  if (!meta.ok()) co_return meta.status();
  std::string filter_name;
  uint64_t filter_bytes = 0;
  for (const table::Table::MetaBlock& m : *meta) {
    if (m.name.starts_with("filter.")) {
      filter_name = m.name.substr(7);
      filter_bytes = m.handle.size();
    }
    if (ctx.json) {
      out << "{\"type\":\"meta\",\"name\":" << JsonString(Escape(m.name))
          << ",\"offset\":" << m.handle.offset() << ",\"size\":" << m.handle.size() << "}\n";
    } else {
      out << "meta block " << Escape(m.name) << " at offset " << m.handle.offset() << " ("
          << m.handle.size() << " bytes)\n";
    }
  }
  if (meta->empty() && !ctx.json) out << "no meta blocks (no filter)\n";

  TableCounts counts;
  Status first_damage;
  table::BlockIter index(&t.index_block(), t.comparator(), /*internal_keys=*/true);
  for (index.SeekToFirst(); index.Valid(); index.Next()) {
    Result<table::BlockHandle> handle = t.DecodeDataHandle(index.value());
    if (!handle.ok()) co_return handle.status();
    const std::string separator(index.key());
    Status s = co_await DumpDataBlock(ctx, t, *handle, separator, &counts);
    if (!s.ok() && !s.IsCorruption()) co_return s;
    if (!s.ok() && first_damage.ok()) first_damage = s;
  }
  if (!index.status().ok()) co_return t.BlockError(footer.index_handle(), index.status());
  PrintTableProperties(ctx, t, counts, filter_bytes, filter_name);
  co_return first_damage;
}

// ------------------------------------------------------------- dump-manifest

void PrintEdit(const Context& ctx, uint64_t offset, const VersionEdit& e) {
  std::ostream& out = *ctx.out;
  const Encoding enc = ctx.key_encoding;
  if (ctx.json) {
    out << "{\"type\":\"edit\",\"offset\":" << offset;
    if (e.comparator()) out << ",\"comparator\":" << JsonString(*e.comparator());
    if (e.log_number()) out << ",\"log_number\":" << *e.log_number();
    if (e.prev_log_number()) out << ",\"prev_log_number\":" << *e.prev_log_number();
    if (e.next_file_number()) out << ",\"next_file\":" << *e.next_file_number();
    if (e.last_sequence()) out << ",\"last_sequence\":" << *e.last_sequence();
    out << ",\"compact_pointers\":[";
    for (size_t i = 0; i < e.compact_pointers().size(); ++i) {
      const auto& [level, key] = e.compact_pointers()[i];
      out << (i ? "," : "") << "{\"level\":" << level
          << ",\"key\":" << InternalKeyJson(key.Encode(), enc) << "}";
    }
    out << "],\"deleted_files\":[";
    bool first = true;
    for (const auto& [level, number] : e.deleted_files()) {
      out << (first ? "" : ",") << "{\"level\":" << level << ",\"number\":" << number << "}";
      first = false;
    }
    out << "],\"new_files\":[";
    for (size_t i = 0; i < e.new_files().size(); ++i) {
      const auto& [level, f] = e.new_files()[i];
      out << (i ? "," : "") << "{\"level\":" << level << ",\"number\":" << f.number
          << ",\"size\":" << f.file_size
          << ",\"smallest\":" << InternalKeyJson(f.smallest.Encode(), enc)
          << ",\"largest\":" << InternalKeyJson(f.largest.Encode(), enc) << "}";
    }
    out << "]}\n";
    return;
  }
  out << "edit at offset " << offset << ":\n";
  if (e.comparator()) out << "  comparator: " << Escape(*e.comparator()) << "\n";
  if (e.log_number()) out << "  log number: " << *e.log_number() << "\n";
  if (e.prev_log_number()) out << "  previous log number: " << *e.prev_log_number() << "\n";
  if (e.next_file_number()) out << "  next file: " << *e.next_file_number() << "\n";
  if (e.last_sequence()) out << "  last sequence: " << *e.last_sequence() << "\n";
  for (const auto& [level, key] : e.compact_pointers()) {
    out << "  compact pointer, level " << level << ": " << InternalKeyText(key.Encode(), enc)
        << "\n";
  }
  for (const auto& [level, number] : e.deleted_files()) {
    out << "  delete file " << number << " from level " << level << "\n";
  }
  for (const auto& [level, f] : e.new_files()) {
    out << "  add file " << f.number << " to level " << level << ": " << f.file_size
        << " bytes, " << InternalKeyText(f.smallest.Encode(), enc) << " .. "
        << InternalKeyText(f.largest.Encode(), enc) << "\n";
  }
}

void PrintLevels(const Context& ctx, const VersionSet& vs) {
  std::ostream& out = *ctx.out;
  const Encoding enc = ctx.key_encoding;
  std::shared_ptr<const Version> v = vs.current();
  if (ctx.json) {
    out << "{\"type\":\"result\",\"log_number\":" << vs.log_number()
        << ",\"prev_log_number\":" << vs.prev_log_number()
        << ",\"next_file\":" << vs.next_file_number()
        << ",\"last_sequence\":" << vs.last_sequence() << ",\"levels\":[";
    for (int level = 0; level < kNumLevels; ++level) {
      out << (level ? "," : "") << "{\"level\":" << level << ",\"bytes\":"
          << v->NumLevelBytes(level) << ",\"files\":[";
      const auto& files = v->files(level);
      for (size_t i = 0; i < files.size(); ++i) {
        out << (i ? "," : "") << "{\"number\":" << files[i]->number
            << ",\"size\":" << files[i]->file_size
            << ",\"smallest\":" << InternalKeyJson(files[i]->smallest.Encode(), enc)
            << ",\"largest\":" << InternalKeyJson(files[i]->largest.Encode(), enc) << "}";
      }
      out << "]}";
    }
    out << "]}\n";
    return;
  }
  out << "resulting state: log number " << vs.log_number() << ", previous log number "
      << vs.prev_log_number() << ", next file " << vs.next_file_number() << ", last sequence "
      << vs.last_sequence() << "\n";
  for (int level = 0; level < kNumLevels; ++level) {
    const auto& files = v->files(level);
    if (files.empty()) continue;
    out << "level " << level << ": " << files.size() << (files.size() == 1 ? " file, " : " files, ")
        << v->NumLevelBytes(level) << " bytes\n";
    for (const FileRef& f : files) {
      out << "  " << f->number << ": " << f->file_size << " bytes, "
          << InternalKeyText(f->smallest.Encode(), enc) << " .. "
          << InternalKeyText(f->largest.Encode(), enc) << "\n";
    }
  }
}

asio::awaitable<Status> DumpManifest(const Context& ctx, std::string path) {
  Result<std::unique_ptr<io::FileSystem>> fs = MakeFileSystem(ctx);
  if (!fs.ok()) co_return fs.status();
  uint64_t number = 0;
  if (path.empty()) {
    Result<uint64_t> current = co_await ReadCurrentFile(**fs, ctx.db);
    if (!current.ok()) co_return current.status();
    number = *current;
    path = io::DescriptorFileName(ctx.db, number);
  } else {
    io::FileType type;
    if (!io::ParseFileName(BaseName(path), &number, &type) ||
        type != io::FileType::kDescriptorFile) {
      co_return Status::InvalidArgument(path, "not a MANIFEST-NNNNNN file name");
    }
  }
  Result<std::unique_ptr<io::File>> file = (*fs)->Open(path, io::OpenMode::kRead);
  if (!file.ok()) co_return file.status();
  if (!ctx.json) *ctx.out << path << ":\n";
  LogWalk walk = co_await WalkLog(
      **file, [&ctx, &path](uint64_t offset, Slice record) {
        VersionEdit edit;
        if (Status s = edit.DecodeFrom(record); !s.ok()) {
          return Status::Corruption(path + ": offset " + std::to_string(offset), s.message());
        }
        PrintEdit(ctx, offset, edit);
        return Status::OK();
      },
      [&ctx](const LogDrop& drop) { PrintDrop(ctx, drop); });
  if (!walk.status.ok()) co_return walk.status;
  // The levels, as the engine's own recovery builds them from this MANIFEST.
  const InternalKeyComparator icmp(BytewiseComparator());
  VersionSet versions(DirName(path), Options(), fs->get(), /*table_cache=*/nullptr, &icmp,
                      /*logger=*/nullptr);
  bool save_manifest = false;
  if (Status s = co_await versions.RecoverFromManifest(number, &save_manifest); !s.ok()) {
    co_return s;
  }
  PrintLevels(ctx, versions);
  co_return Status::OK();
}

}  // namespace

int CmdDumpLog(Context& ctx) {
  Status s = RunStatus(DumpLog(ctx, ResolveFile(ctx, ctx.args[0])));
  return s.ok() ? kExitOk : Fail(ctx, s);
}

int CmdDumpTable(Context& ctx) {
  Status s = RunStatus(DumpTable(ctx, ResolveFile(ctx, ctx.args[0])));
  return s.ok() ? kExitOk : Fail(ctx, s);
}

int CmdDumpManifest(Context& ctx) {
  Status s = RunStatus(DumpManifest(ctx, ctx.args.empty() ? "" : ResolveFile(ctx, ctx.args[0])));
  return s.ok() ? kExitOk : Fail(ctx, s);
}

}  // namespace corodb::cli
