#include "io/fault_injection_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

namespace corodb::io {
namespace asio = boost::asio;

namespace {

std::string Canonical(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

Status Errno(const std::string& what, int err) {
  return Status::IOError(what, std::strerror(err));
}

}  // namespace

FaultInjectionBackend::FaultInjectionBackend(std::shared_ptr<Backend> inner)
    : inner_(std::move(inner)), name_("fault(" + std::string(inner_->Name()) + ")") {}

FaultInjectionBackend::~FaultInjectionBackend() {
  for (auto& [id, f] : files_) {
    if (f.keep_fd >= 0) ::close(f.keep_fd);
  }
  for (auto& [key, d] : dirs_) {
    std::error_code ec;
    std::filesystem::remove_all(d.shadow, ec);
  }
}

void FaultInjectionBackend::OnOpen(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    inner_->OnOpen(fd, path);
    return;
  }
  const FileId id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  const bool is_dir = S_ISDIR(st.st_mode);
  const uint64_t size = is_dir ? 0 : static_cast<uint64_t>(st.st_size);
  // Keeps the inode alive, so that its number names it for the backend's
  // life, and lets DropUnsyncedData reach it after renames and unlinks.
  int keep = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_PATH | O_CLOEXEC);
  {
    std::lock_guard lock(mu_);
    fds_[fd] = OpenFd{id, path, is_dir ? Canonical(path) : std::string()};
    auto [it, inserted] = files_.try_emplace(id);
    FileState& f = it->second;
    f.path = path;
    f.is_dir = is_dir;
    if (inserted) {
      // Content that existed before this backend saw the file counts as durable.
      f.written_end = f.durable = size;
      f.keep_fd = keep;
      keep = -1;
    } else if (size < f.durable) {
      // Truncated (e.g. re-created with O_TRUNC): forget what it held.
      f.written_end = f.durable = size;
      f.undo.clear();
    }
  }
  if (keep >= 0) ::close(keep);
  inner_->OnOpen(fd, path);
}

void FaultInjectionBackend::OnClose(int fd) {
  {
    std::lock_guard lock(mu_);
    fds_.erase(fd);
  }
  inner_->OnClose(fd);
}

int FaultInjectionBackend::BeforeOpen(const std::string& path) {
  {
    std::lock_guard lock(mu_);
    if (open_err_ != 0 && (!open_filter_ || open_filter_(path))) {
      faults_.fetch_add(1);
      return open_err_;
    }
  }
  return inner_->BeforeOpen(path);
}

int FaultInjectionBackend::BeforeRename(const std::string& from, const std::string& to) {
  renames_.fetch_add(1);
  {
    std::lock_guard lock(mu_);
    if (rename_countdown_ > 0 && (!rename_filter_ || rename_filter_(to)) &&
        --rename_countdown_ == 0) {
      faults_.fetch_add(1);
      return rename_err_;
    }
  }
  return inner_->BeforeRename(from, to);
}

bool FaultInjectionBackend::AllowsCachedReads() const {
  return !reads_fail_.load() && inner_->AllowsCachedReads();
}

void FaultInjectionBackend::FailOpens(int err, PathFilter only) {
  std::lock_guard lock(mu_);
  open_err_ = err;
  open_filter_ = std::move(only);
}

void FaultInjectionBackend::FailReads(int err, ReadFilter only) {
  std::lock_guard lock(mu_);
  read_err_ = err;
  read_filter_ = std::move(only);
  reads_fail_.store(err != 0);
}

void FaultInjectionBackend::FailNthWrite(int n, int err, PathFilter only) {
  std::lock_guard lock(mu_);
  write_countdown_ = n;
  write_err_ = err;
  write_filter_ = std::move(only);
}
void FaultInjectionBackend::FailNthSync(int n, int err, PathFilter only) {
  std::lock_guard lock(mu_);
  sync_countdown_ = n;
  sync_err_ = err;
  sync_filter_ = std::move(only);
}
void FaultInjectionBackend::FailNthRename(int n, int err, PathFilter only) {
  std::lock_guard lock(mu_);
  rename_countdown_ = n;
  rename_err_ = err;
  rename_filter_ = std::move(only);
}
void FaultInjectionBackend::FailAllWrites(int err) {
  std::lock_guard lock(mu_);
  all_writes_err_ = err;
}
void FaultInjectionBackend::FailAllSyncs(int err) {
  std::lock_guard lock(mu_);
  all_syncs_err_ = err;
}

int FaultInjectionBackend::NextWriteFault(int fd) {
  writes_.fetch_add(1);
  std::lock_guard lock(mu_);
  if (all_writes_err_ != 0) return all_writes_err_;
  if (write_countdown_ <= 0) return 0;
  if (write_filter_) {
    auto it = fds_.find(fd);
    if (it == fds_.end() || !write_filter_(it->second.path)) return 0;
  }
  return --write_countdown_ == 0 ? write_err_ : 0;
}
int FaultInjectionBackend::NextSyncFault(int fd) {
  syncs_.fetch_add(1);
  std::lock_guard lock(mu_);
  if (all_syncs_err_ != 0) return all_syncs_err_;
  if (sync_countdown_ <= 0) return 0;
  if (sync_filter_) {
    auto it = fds_.find(fd);
    if (it == fds_.end() || !sync_filter_(it->second.path)) return 0;
  }
  return --sync_countdown_ == 0 ? sync_err_ : 0;
}

int FaultInjectionBackend::NextReadFault(const IoRequest& req) {
  std::lock_guard lock(mu_);
  if (read_err_ == 0) return 0;
  if (read_filter_) {
    auto it = fds_.find(req.fd);
    if (it == fds_.end() || !read_filter_(it->second.path, req.offset, req.len)) return 0;
  }
  return read_err_;
}

void FaultInjectionBackend::RecordWrite(int fd, uint64_t end) {
  std::lock_guard lock(mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  FileState& f = files_[it->second.id];
  if (end > f.written_end) f.written_end = end;
}

bool FaultInjectionBackend::RecordSync(int fd, uint64_t written_end, uint64_t seq,
                                       const DirSnapshot* dir) {
  std::lock_guard lock(mu_);
  if (power_cut_) return false;
  ++successful_syncs_;
  auto it = fds_.find(fd);
  if (cut_after_syncs_ != 0 && successful_syncs_ >= cut_after_syncs_) {
    power_cut_ = true;
    all_writes_err_ = all_syncs_err_ = EIO;
    power_cut_after_path_ = it != fds_.end() ? it->second.path : std::string("(closed)");
  }
  if (dir != nullptr) {
    auto d = dirs_.find(dir->key);
    if (d != dirs_.end() && dir->seq > d->second.durable_seq) {
      d->second.durable = dir->entries;
      d->second.durable_seq = dir->seq;
    }
  }
  if (it == fds_.end()) return true;
  FileState& f = files_[it->second.id];
  if (written_end > f.durable) f.durable = written_end;
  std::erase_if(f.undo, [seq](const Undo& u) { return u.seq <= seq; });
  return true;
}

void FaultInjectionBackend::CutPowerAfterSyncs(int k) {
  std::lock_guard lock(mu_);
  cut_after_syncs_ = k > 0 ? successful_syncs_ + static_cast<uint64_t>(k) : 0;
}

uint64_t FaultInjectionBackend::successful_syncs() {
  std::lock_guard lock(mu_);
  return successful_syncs_;
}

std::string FaultInjectionBackend::power_cut_after_path() {
  std::lock_guard lock(mu_);
  return power_cut_after_path_;
}

uint64_t FaultInjectionBackend::SaveUndo(const IoRequest& req) {
  Undo u;
  u.offset = req.offset;
  u.old_bytes.resize(req.len);
  const ssize_t n =
      ::pread(req.fd, u.old_bytes.data(), req.len, static_cast<off_t>(req.offset));
  u.old_bytes.resize(n > 0 ? static_cast<size_t>(n)
                           : 0);  // past EOF: truncation undoes it
  std::lock_guard lock(mu_);
  u.seq = ++write_seq_;
  auto it = fds_.find(req.fd);
  if (it != fds_.end() && !u.old_bytes.empty()) {
    files_[it->second.id].undo.push_back(std::move(u));
  }
  return write_seq_;
}

uint64_t FaultInjectionBackend::LastWriteSeq() {
  std::lock_guard lock(mu_);
  return write_seq_;
}
uint64_t FaultInjectionBackend::WrittenEnd(int fd) {
  std::lock_guard lock(mu_);
  auto it = fds_.find(fd);
  return it == fds_.end() ? 0 : files_[it->second.id].written_end;
}

// --- Directories ---

std::string FaultInjectionBackend::ShadowName(FileId id) {
  return std::to_string(id.dev) + "-" + std::to_string(id.ino);
}

Result<FaultInjectionBackend::Listing> FaultInjectionBackend::ListRegularFiles(
    const std::string& dir) {
  Listing listing;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return listing;
    return Errno(dir, errno);
  }
  errno = 0;
  while (struct dirent* entry = ::readdir(d)) {
    const std::string name(entry->d_name);
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue;  // gone
    if (!S_ISREG(st.st_mode)) continue;
    listing[name] =
        FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return Errno(dir, err);
  return listing;
}

bool FaultInjectionBackend::LinkIntoShadow(const std::string& dir,
                                           const std::string& name, FileId id,
                                           const std::string& shadow) {
  const std::string link = shadow + "/" + ShadowName(id);
  // An existing shadow link names `id`: it keeps that inode (and number) alive.
  if (::link((dir + "/" + name).c_str(), link.c_str()) != 0) return errno == EEXIST;
  struct stat st;
  if (::lstat(link.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_ino) == id.ino &&
      static_cast<uint64_t>(st.st_dev) == id.dev) {
    return true;
  }
  ::unlink(link.c_str());  // the name was replaced meanwhile
  return false;
}

Status FaultInjectionBackend::TrackDirectory(const std::string& dir) {
  static std::atomic<uint64_t> next_shadow{0};
  const std::string key = Canonical(dir);
  const std::string shadow = key + ".fault-shadow-" + std::to_string(::getpid()) + "-" +
                             std::to_string(next_shadow.fetch_add(1));
  if (::mkdir(shadow.c_str(), 0755) != 0) return Errno(shadow, errno);
  Result<Listing> listing = ListRegularFiles(key);
  if (!listing.ok()) return listing.status();
  DirState state;
  state.path = key;
  state.shadow = shadow;
  for (auto& [name, id] : *listing) {
    if (LinkIntoShadow(key, name, id, shadow)) state.durable.emplace(name, id);
  }
  std::lock_guard lock(mu_);
  if (dirs_.count(key) != 0) return Status::InvalidArgument(dir, "already tracked");
  dirs_.emplace(key, std::move(state));
  return Status::OK();
}

std::shared_ptr<const FaultInjectionBackend::DirSnapshot>
FaultInjectionBackend::SnapshotDir(int fd) {
  auto snapshot = std::make_shared<DirSnapshot>();
  std::string path, shadow;
  {
    std::lock_guard lock(mu_);
    auto it = fds_.find(fd);
    if (it == fds_.end() || it->second.dir_key.empty()) return nullptr;
    auto d = dirs_.find(it->second.dir_key);
    if (d == dirs_.end()) return nullptr;
    // Counted before any link is made: shadow links are pruned only while
    // no snapshot is being taken or waits for its sync.
    ++d->second.snapshots_in_flight;
    snapshot->key = d->first;
    snapshot->seq = ++dir_seq_;
    path = d->second.path;
    shadow = d->second.shadow;
  }
  Result<Listing> listing = ListRegularFiles(path);
  if (listing.ok()) {
    for (auto& [name, id] : *listing) {
      if (LinkIntoShadow(path, name, id, shadow)) snapshot->entries.emplace(name, id);
    }
  } else {
    snapshot->seq = 0;  // never committed (older than any durable listing)
  }
  return snapshot;
}

void FaultInjectionBackend::EndDirSnapshot(const DirSnapshot& dir) {
  std::lock_guard lock(mu_);
  auto d = dirs_.find(dir.key);
  if (d == dirs_.end()) return;
  if (--d->second.snapshots_in_flight == 0) PruneShadowLocked(&d->second);
}

void FaultInjectionBackend::PruneShadowLocked(DirState* dir) {
  std::set<std::string> needed;
  for (const auto& [name, id] : dir->durable) needed.insert(ShadowName(id));
  Result<Listing> links = ListRegularFiles(dir->shadow);
  if (!links.ok()) return;
  for (const auto& [name, id] : *links) {
    if (needed.count(name) == 0) ::unlink((dir->shadow + "/" + name).c_str());
  }
}

// --- Requests ---

FaultInjectionBackend::Plan FaultInjectionBackend::Prepare(const IoRequest& req) {
  Plan plan;
  plan.req = req;
  plan.forwarded = req;
  const bool is_write =
      req.opcode == IoOpcode::kWrite || req.opcode == IoOpcode::kWriteThenFdatasync;
  const bool is_sync = req.opcode != IoOpcode::kRead && req.opcode != IoOpcode::kWrite;
  if (req.opcode == IoOpcode::kRead) {
    if (const int err = NextReadFault(req); err != 0) {
      faults_.fetch_add(1);
      plan.fail = IoCompletion{-err, 0};
      return plan;
    }
  }
  if (is_write) {
    if (const int err = NextWriteFault(req.fd); err != 0) {
      faults_.fetch_add(1);
      plan.fail = IoCompletion{
          -err, req.opcode == IoOpcode::kWriteThenFdatasync ? -ECANCELED : 0};
      return plan;
    }
  }
  plan.sync_err = is_sync ? NextSyncFault(req.fd) : 0;
  if (plan.sync_err != 0 && !is_write) {
    faults_.fetch_add(1);
    plan.fail = IoCompletion{-plan.sync_err, 0};
    return plan;
  }
  // What a successful sync makes durable: everything written before it started.
  plan.written_before = WrittenEnd(req.fd);
  plan.seq = is_write ? SaveUndo(req) : LastWriteSeq();
  if (is_sync && !is_write) plan.dir = SnapshotDir(req.fd);
  if (plan.sync_err != 0)
    plan.forwarded.opcode = IoOpcode::kWrite;  // written; the sync "fails"
  return plan;
}

void FaultInjectionBackend::Finish(const Plan& plan, IoCompletion* c) {
  const IoRequest& req = plan.req;
  if (req.opcode == IoOpcode::kWrite || req.opcode == IoOpcode::kWriteThenFdatasync) {
    if (c->res > 0) RecordWrite(req.fd, req.offset + static_cast<uint64_t>(c->res));
  }
  if (req.opcode == IoOpcode::kWriteThenFdatasync) {
    if (plan.sync_err != 0) {
      c->sync_res = c->res == static_cast<int32_t>(req.len) ? -plan.sync_err : -ECANCELED;
      faults_.fetch_add(1);
    } else if (c->sync_res == 0 &&
               !RecordSync(req.fd, req.offset + req.len, plan.seq, nullptr)) {
      c->sync_res = -EIO;  // completed after the power cut
    }
  } else if ((req.opcode == IoOpcode::kFdatasync || req.opcode == IoOpcode::kFsync) &&
             c->res == 0 &&
             !RecordSync(req.fd, plan.written_before, plan.seq, plan.dir.get())) {
    c->res = -EIO;  // completed after the power cut
  }
  if (plan.dir) EndDirSnapshot(*plan.dir);
}

void FaultInjectionBackend::Start(const asio::any_io_executor& ex, const IoRequest& req,
                                  IoHandler handler) {
  const Plan plan = Prepare(req);
  if (req.opcode == IoOpcode::kFdatasync || req.opcode == IoOpcode::kFsync) {
    std::lock_guard lock(mu_);
    if (holding_syncs_) {
      // Tracked: a held sync keeps its executor's context alive, as a
      // started operation does.
      held_.push_back(Held{asio::prefer(ex, asio::execution::outstanding_work.tracked), plan,
                           std::move(handler)});
      return;
    }
  }
  Launch(ex, plan, std::move(handler));
}

void FaultInjectionBackend::HoldSyncs() {
  std::lock_guard lock(mu_);
  holding_syncs_ = true;
}

void FaultInjectionBackend::ReleaseSyncs() {
  std::vector<Held> held;
  {
    std::lock_guard lock(mu_);
    holding_syncs_ = false;
    held.swap(held_);
  }
  for (Held& h : held) Launch(h.ex, h.plan, std::move(h.handler));
}

std::vector<int> FaultInjectionBackend::held_sync_fds() {
  std::lock_guard lock(mu_);
  std::vector<int> fds;
  for (const Held& h : held_) fds.push_back(h.plan.req.fd);
  return fds;
}

size_t FaultInjectionBackend::held_syncs() {
  std::lock_guard lock(mu_);
  return held_.size();
}

void FaultInjectionBackend::Launch(const asio::any_io_executor& ex, const Plan& plan,
                                   IoHandler handler) {
  if (plan.fail) {
    asio::post(ex, asio::append(std::move(handler), *plan.fail));
    return;
  }
  // The awaiting coroutine's cancellation slot goes along (Backend::Start).
  const asio::cancellation_slot slot = asio::get_associated_cancellation_slot(handler);
  inner_->Start(
      ex, plan.forwarded,
      asio::bind_cancellation_slot(
          slot, asio::bind_executor(ex, [this, plan, handler = std::move(handler)](
                                            IoCompletion c) mutable {
            Finish(plan, &c);
            std::move(handler)(c);
          })));
}

IoCompletion FaultInjectionBackend::RunInline(const IoRequest& req) {
  const Plan plan = Prepare(req);
  if (plan.fail) return *plan.fail;
  IoCompletion c = inner_->RunInline(plan.forwarded);
  Finish(plan, &c);
  return c;
}

// --- Power cut ---

Status FaultInjectionBackend::RollBackFileLocked(FileState* f) {
  if (f->is_dir) return Status::OK();
  // Through the kept descriptor: the inode, whatever it is called now.
  const std::string path =
      f->keep_fd >= 0 ? "/proc/self/fd/" + std::to_string(f->keep_fd) : f->path;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && f->keep_fd < 0) return Status::OK();  // gone, by its old name
    return Errno(f->path + " (" + path + ")", errno);
  }
  Status s;
  struct stat st;
  if (::fstat(fd, &st) != 0) s = Errno(f->path, errno);
  for (auto u = f->undo.rbegin(); s.ok() && u != f->undo.rend(); ++u) {
    if (::pwrite(fd, u->old_bytes.data(), u->old_bytes.size(),
                 static_cast<off_t>(u->offset)) < 0) {
      s = Errno(f->path, errno);
    }
  }
  // Never longer than it is now: a truncation outside the backend counts as durable.
  const uint64_t size =
      s.ok() ? std::min<uint64_t>(f->durable, static_cast<uint64_t>(st.st_size)) : 0;
  if (s.ok() && ::ftruncate(fd, static_cast<off_t>(size)) != 0) s = Errno(f->path, errno);
  ::close(fd);
  if (!s.ok()) return s;
  f->undo.clear();
  f->written_end = f->durable = size;
  return Status::OK();
}

Status FaultInjectionBackend::RollBackDirLocked(DirState* dir) {
  Result<Listing> now = ListRegularFiles(dir->path);
  if (!now.ok()) return now.status();
  // Names created, or replaced, since the last durable listing go ...
  for (const auto& [name, id] : *now) {
    auto it = dir->durable.find(name);
    if (it != dir->durable.end() && it->second == id) continue;
    if (::unlink((dir->path + "/" + name).c_str()) != 0 && errno != ENOENT) {
      return Errno(dir->path + "/" + name, errno);
    }
  }
  // ... and names removed or replaced since come back with their old inode.
  for (const auto& [name, id] : dir->durable) {
    auto it = now->find(name);
    if (it != now->end() && it->second == id) continue;
    const std::string from = dir->shadow + "/" + ShadowName(id);
    if (::link(from.c_str(), (dir->path + "/" + name).c_str()) != 0) {
      return Errno("restoring " + dir->path + "/" + name + " from " + from, errno);
    }
  }
  return Status::OK();
}

Status FaultInjectionBackend::DropUnsyncedData() {
  std::lock_guard lock(mu_);
  for (auto& [id, f] : files_) {
    if (Status s = RollBackFileLocked(&f); !s.ok()) return s;
  }
  for (auto& [key, dir] : dirs_) {
    if (Status s = RollBackDirLocked(&dir); !s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace corodb::io
