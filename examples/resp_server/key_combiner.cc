#include "key_combiner.h"

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

asio::awaitable<std::string> KeyCombiner::Apply(std::string key, Op op) {
  Shard& shard = ShardFor(key);
  Waiter self;
  self.op = &op;
  bool lead = false;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto [it, inserted] = shard.queues.try_emplace(key);
    it->second.push_back(&self);
    lead = inserted;
  }
  if (!lead) {
    // Wait for a reply, or for the turn to lead. The queue entry was made
    // above; the handler is stored under the lock, and a leader only wakes
    // a waiter whose handler is there (it takes the lock to find it).
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [&shard, &self](auto handler) {
          std::lock_guard<std::mutex> lock(shard.mu);
          self.executor = asio::get_associated_executor(handler);
          self.handler.emplace(std::move(handler));
          if (self.lead || self.served) Wake(&self);  // woken before it waited
        },
        asio::use_awaitable);
    if (!self.lead) co_return std::move(self.reply);
  }
  co_await Lead(key, shard);
  co_return std::move(self.reply);
}

asio::awaitable<void> KeyCombiner::Lead(const std::string& key, Shard& shard) {
  std::vector<Waiter*> batch;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    batch.swap(shard.queues.at(key));
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
  // Hand the key over, then answer this batch (batch[0] is the caller).
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.queues.find(key);
  if (it->second.empty()) {
    shard.queues.erase(it);
  } else {
    Waiter* next = it->second.front();
    next->lead = true;
    if (next->handler) Wake(next);
  }
  for (size_t i = 1; i < batch.size(); ++i) {
    batch[i]->served = true;
    if (batch[i]->handler) Wake(batch[i]);
  }
}

}  // namespace corodb::resp
