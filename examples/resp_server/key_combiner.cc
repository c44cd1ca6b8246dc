#include "key_combiner.h"

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <limits>
#include <utility>

#include "resp_parser.h"
#include "resp_writer.h"

namespace corodb::resp {

namespace asio = boost::asio;

namespace {

// A status as one RESP error line (CR and LF in messages become spaces).
std::string ErrorReply(const Status& s) {
  std::string text = "ERR " + s.ToString();
  for (char& c : text) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  std::string out;
  ReplyWriter(&out).Error(text);
  return out;
}

}  // namespace

KeyCombiner::Shard& KeyCombiner::ShardFor(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

std::string KeyCombiner::Compute(const Op& op, std::optional<std::string>* value,
                                 bool* changed) {
  std::string out;
  ReplyWriter w(&out);
  switch (op.kind) {
    case Op::Kind::kIncrBy: {
      int64_t current = 0;
      if (value->has_value() && !ParseInteger(**value, &current)) {
        w.Error("ERR value is not an integer or out of range");
        break;
      }
      if ((op.delta > 0 && current > std::numeric_limits<int64_t>::max() - op.delta) ||
          (op.delta < 0 && current < std::numeric_limits<int64_t>::min() - op.delta)) {
        w.Error("ERR increment or decrement would overflow");
        break;
      }
      current += op.delta;
      *value = std::to_string(current);
      *changed = true;
      w.Integer(current);
      break;
    }
    case Op::Kind::kSetIfAbsent:
    case Op::Kind::kSetIfPresent:
      if (value->has_value() == (op.kind == Op::Kind::kSetIfPresent)) {
        *value = op.value;
        *changed = true;
        w.SimpleString("OK");
      } else {
        w.NullBulk();
      }
      break;
  }
  return out;
}

void KeyCombiner::Wake(Waiter* waiter) {
  // The waiter's frame may be destroyed as soon as the handler runs: take
  // the handler out first and touch nothing after posting it.
  asio::any_io_executor executor = waiter->executor;
  asio::post(executor,
             [handler = std::move(*waiter->handler)]() mutable { std::move(handler)(); });
}

asio::awaitable<void> KeyCombiner::Wait(Shard& shard, Waiter& waiter) {
  // The waiter is in a queue already; the handler is stored under the lock,
  // and whoever serves the waiter or gives it the turn takes the lock and
  // wakes it only when its handler is there.
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [&shard, &waiter](auto handler) {
        std::lock_guard<std::mutex> lock(shard.mu);
        waiter.executor = asio::get_associated_executor(handler);
        waiter.handler.emplace(std::move(handler));
        if (waiter.turn || waiter.served) Wake(&waiter);  // woken before it waited
      },
      asio::use_awaitable);
}

void KeyCombiner::PassTurn(Shard& shard,
                           std::unordered_map<std::string, KeyState>::iterator it) {
  KeyState& state = it->second;
  if (state.queue.empty()) {
    shard.keys.erase(it);
    return;
  }
  auto give = [](Waiter* w) {
    w->turn = true;
    if (w->handler) Wake(w);
  };
  if (state.queue.front()->op != nullptr) {
    state.leader = true;  // a read-modify-write leads the next batch
    give(state.queue.front());
    state.queue.pop_front();
    return;
  }
  while (!state.queue.empty() && state.queue.front()->op == nullptr) {
    ++state.plain_writes;  // plain writes up to the next read-modify-write
    give(state.queue.front());
    state.queue.pop_front();
  }
}

asio::awaitable<std::string> KeyCombiner::Apply(std::string key, Op op) {
  Shard& shard = ShardFor(key);
  Waiter self;
  self.op = &op;
  bool lead = false;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto [it, inserted] = shard.keys.try_emplace(key);
    if (inserted) {
      it->second.leader = lead = true;  // an idle key
    } else {
      it->second.queue.push_back(&self);
    }
  }
  if (!lead) {
    co_await Wait(shard, self);  // for a reply, or for the turn to lead
    if (!self.turn) co_return std::move(self.reply);
  }
  co_await Lead(key, shard, self);
  co_return std::move(self.reply);
}

asio::awaitable<void> KeyCombiner::Lead(const std::string& key, Shard& shard,
                                        Waiter& self) {
  // The batch: this command and the read-modify-writes queued right behind it.
  std::vector<Waiter*> batch = {&self};
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    std::deque<Waiter*>& queue = shard.keys.at(key).queue;
    while (!queue.empty() && queue.front()->op != nullptr) {
      batch.push_back(queue.front());
      queue.pop_front();
    }
  }
  Result<std::string> current = co_await db_.Get({}, key);
  if (!current.ok() && !current.status().IsNotFound()) {
    const std::string error = ErrorReply(current.status());
    for (Waiter* w : batch) w->reply = error;
  } else {
    std::optional<std::string> value;
    if (current.ok()) value = std::move(*current);
    bool changed = false;
    for (Waiter* w : batch) w->reply = Compute(*w->op, &value, &changed);
    if (changed) {
      const Status s = co_await db_.Put(write_options_, key, *value);
      if (!s.ok()) {
        const std::string error = ErrorReply(s);
        for (Waiter* w : batch) w->reply = error;
      }
    }
  }
  // Pass the turn on, then answer this batch (batch[0] is the caller).
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.keys.find(key);
  it->second.leader = false;
  PassTurn(shard, it);
  for (size_t i = 1; i < batch.size(); ++i) {
    batch[i]->served = true;
    if (batch[i]->handler) Wake(batch[i]);
  }
}

asio::awaitable<KeyCombiner::PlainTurns> KeyCombiner::TakePlainTurns(
    std::vector<std::string> keys) {
  // In key order, so that two plain writes never wait for each other in a cycle.
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  PlainTurns turns;
  turns.combiner_ = this;
  for (std::string& key : keys) {
    Shard& shard = ShardFor(key);
    Waiter self;  // op == nullptr: a plain write
    bool now = false;
    {
      std::lock_guard<std::mutex> lock(shard.mu);
      KeyState& state = shard.keys[key];
      now = !state.leader && state.queue.empty();  // idle, or held by plain writes
      if (now) {
        ++state.plain_writes;
      } else {
        state.queue.push_back(&self);
      }
    }
    if (!now) co_await Wait(shard, self);  // PassTurn counted it in plain_writes
    turns.keys_.push_back(std::move(key));
  }
  co_return turns;
}

void KeyCombiner::ReleasePlainTurn(const std::string& key) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.keys.find(key);
  if (--it->second.plain_writes == 0) PassTurn(shard, it);
}

KeyCombiner::PlainTurns& KeyCombiner::PlainTurns::operator=(PlainTurns&& other) noexcept {
  if (this != &other) {
    Release();
    combiner_ = std::exchange(other.combiner_, nullptr);
    keys_ = std::move(other.keys_);
  }
  return *this;
}

void KeyCombiner::PlainTurns::Release() {
  if (combiner_ == nullptr) return;
  for (const std::string& key : keys_) combiner_->ReleasePlainTurn(key);
  combiner_ = nullptr;
  keys_.clear();
}

}  // namespace corodb::resp
