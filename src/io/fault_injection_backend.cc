#include "io/fault_injection_backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

namespace corodb::io {
namespace asio = boost::asio;

FaultInjectionBackend::FaultInjectionBackend(std::shared_ptr<Backend> inner)
    : inner_(std::move(inner)), name_("fault(" + std::string(inner_->Name()) + ")") {}

void FaultInjectionBackend::OnOpen(int fd, const std::string& path) {
  struct stat st;
  const uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  {
    std::lock_guard lock(mu_);
    fd_paths_[fd] = path;
    auto [it, inserted] = files_.try_emplace(path);
    FileState& f = it->second;
    if (inserted) {
      // Content that existed before this backend saw the file counts as durable.
      f.written_end = f.durable = size;
    } else if (size < f.durable) {
      // Truncated (e.g. re-created with O_TRUNC): forget what it held.
      f.written_end = f.durable = size;
    }
  }
  inner_->OnOpen(fd, path);
}

void FaultInjectionBackend::OnClose(int fd) {
  {
    std::lock_guard lock(mu_);
    fd_paths_.erase(fd);
  }
  inner_->OnClose(fd);
}

void FaultInjectionBackend::FailNthWrite(int n, int err) {
  std::lock_guard lock(mu_);
  write_countdown_ = n;
  write_err_ = err;
}
void FaultInjectionBackend::FailNthSync(int n, int err) {
  std::lock_guard lock(mu_);
  sync_countdown_ = n;
  sync_err_ = err;
}
void FaultInjectionBackend::FailAllWrites(int err) {
  std::lock_guard lock(mu_);
  all_writes_err_ = err;
}
void FaultInjectionBackend::FailAllSyncs(int err) {
  std::lock_guard lock(mu_);
  all_syncs_err_ = err;
}

int FaultInjectionBackend::NextWriteFault() {
  writes_.fetch_add(1);
  std::lock_guard lock(mu_);
  if (all_writes_err_ != 0) return all_writes_err_;
  if (write_countdown_ > 0 && --write_countdown_ == 0) return write_err_;
  return 0;
}
int FaultInjectionBackend::NextSyncFault() {
  syncs_.fetch_add(1);
  std::lock_guard lock(mu_);
  if (all_syncs_err_ != 0) return all_syncs_err_;
  if (sync_countdown_ > 0 && --sync_countdown_ == 0) return sync_err_;
  return 0;
}

void FaultInjectionBackend::RecordWrite(int fd, uint64_t end) {
  std::lock_guard lock(mu_);
  auto it = fd_paths_.find(fd);
  if (it == fd_paths_.end()) return;
  FileState& f = files_[it->second];
  if (end > f.written_end) f.written_end = end;
}
bool FaultInjectionBackend::RecordSync(int fd, uint64_t written_end, uint64_t seq) {
  std::lock_guard lock(mu_);
  if (power_cut_) return false;
  ++successful_syncs_;
  if (cut_after_syncs_ != 0 && successful_syncs_ >= cut_after_syncs_) {
    power_cut_ = true;
    all_writes_err_ = all_syncs_err_ = EIO;
  }
  auto it = fd_paths_.find(fd);
  if (it == fd_paths_.end()) return true;
  FileState& f = files_[it->second];
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

uint64_t FaultInjectionBackend::SaveUndo(const IoRequest& req) {
  Undo u;
  u.offset = req.offset;
  u.old_bytes.resize(req.len);
  const ssize_t n = ::pread(req.fd, u.old_bytes.data(), req.len, static_cast<off_t>(req.offset));
  u.old_bytes.resize(n > 0 ? static_cast<size_t>(n) : 0);  // past EOF: truncation undoes it
  std::lock_guard lock(mu_);
  u.seq = ++write_seq_;
  auto it = fd_paths_.find(req.fd);
  if (it != fd_paths_.end() && !u.old_bytes.empty()) {
    files_[it->second].undo.push_back(std::move(u));
  }
  return write_seq_;
}

uint64_t FaultInjectionBackend::LastWriteSeq() {
  std::lock_guard lock(mu_);
  return write_seq_;
}
uint64_t FaultInjectionBackend::WrittenEnd(int fd) {
  std::lock_guard lock(mu_);
  auto it = fd_paths_.find(fd);
  return it == fd_paths_.end() ? 0 : files_[it->second].written_end;
}

FaultInjectionBackend::Plan FaultInjectionBackend::Prepare(const IoRequest& req) {
  Plan plan;
  plan.req = req;
  plan.forwarded = req;
  const bool is_write =
      req.opcode == IoOpcode::kWrite || req.opcode == IoOpcode::kWriteThenFdatasync;
  const bool is_sync = req.opcode != IoOpcode::kRead && req.opcode != IoOpcode::kWrite;
  if (is_write) {
    if (const int err = NextWriteFault(); err != 0) {
      faults_.fetch_add(1);
      plan.fail = IoCompletion{-err, req.opcode == IoOpcode::kWriteThenFdatasync ? -ECANCELED : 0};
      return plan;
    }
  }
  plan.sync_err = is_sync ? NextSyncFault() : 0;
  if (plan.sync_err != 0 && !is_write) {
    faults_.fetch_add(1);
    plan.fail = IoCompletion{-plan.sync_err, 0};
    return plan;
  }
  // What a successful sync makes durable: everything written before it started.
  plan.written_before = WrittenEnd(req.fd);
  plan.seq = is_write ? SaveUndo(req) : LastWriteSeq();
  if (plan.sync_err != 0) plan.forwarded.opcode = IoOpcode::kWrite;  // written; the sync "fails"
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
    } else if (c->sync_res == 0 && !RecordSync(req.fd, req.offset + req.len, plan.seq)) {
      c->sync_res = -EIO;  // completed after the power cut
    }
  } else if ((req.opcode == IoOpcode::kFdatasync || req.opcode == IoOpcode::kFsync) &&
             c->res == 0 && !RecordSync(req.fd, plan.written_before, plan.seq)) {
    c->res = -EIO;  // completed after the power cut
  }
}

void FaultInjectionBackend::Start(const asio::any_io_executor& ex, const IoRequest& req,
                                  IoHandler handler) {
  const Plan plan = Prepare(req);
  if (req.opcode == IoOpcode::kFdatasync || req.opcode == IoOpcode::kFsync) {
    std::lock_guard lock(mu_);
    if (holding_syncs_) {
      held_.push_back(Held{ex, plan, std::move(handler)});
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
  inner_->Start(ex, plan.forwarded,
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

Status FaultInjectionBackend::DropUnsyncedData() {
  std::lock_guard lock(mu_);
  for (auto& [path, state] : files_) {
    if (!state.undo.empty()) {
      const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        for (auto u = state.undo.rbegin(); u != state.undo.rend(); ++u) {
          if (::pwrite(fd, u->old_bytes.data(), u->old_bytes.size(), static_cast<off_t>(u->offset)) < 0) {
            const int err = errno;
            ::close(fd);
            return Status::IOError(path, std::string("undo write: ") + std::strerror(err));
          }
        }
        ::close(fd);
      }
      state.undo.clear();
    }
    if (::truncate(path.c_str(), static_cast<off_t>(state.durable)) != 0 && errno != ENOENT &&
        errno != EISDIR) {
      return Status::IOError(path, std::string("truncate: ") + std::strerror(errno));
    }
    state.written_end = state.durable;
  }
  return Status::OK();
}

}  // namespace corodb::io
