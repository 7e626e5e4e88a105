#include "corpus/pretraining_stream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "common/crash_point.h"
#include "common/stop_signal.h"
#include "corpus/draws.h"
#include "corpus/shard_format.h"
#include "corpus/text_source.h"

namespace electra {

struct PretrainingStream::State {
  const Tokenizer& tokenizer;
  CorpusOptions options;
  int64_t epoch;
  std::vector<CorpusInput> inputs;

  std::mutex mutex;
  std::condition_variable not_empty, not_full;
  std::deque<PretrainingExample> queue;
  bool finished = false;  // the producer is done (or failed: error)
  std::exception_ptr error;
  std::atomic<bool> stop{false};
  std::thread producer;

  int64_t produced = 0;
  double wait_seconds = 0;

  State(const Tokenizer& t, const CorpusOptions& o, int64_t e) : tokenizer(t), options(o), epoch(e) {}

  int64_t wake_batch() const { return std::min<int64_t>(64, options.queue_capacity); }

  // Hands one example to the consumer; false when the stream is being destroyed.
  bool push(PretrainingExample&& example) {
    std::unique_lock<std::mutex> lock(mutex);
    not_full.wait(lock, [&] {
      return stop.load() || static_cast<int64_t>(queue.size()) < options.queue_capacity;
    });
    if (stop.load()) return false;
    queue.push_back(std::move(example));
    // The consumer waits only on an empty queue: wake it once a batch is ready, not per example (a wake-up per
    // example cost 40% of the throughput on short documents).
    const bool wake = static_cast<int64_t>(queue.size()) == wake_batch();
    lock.unlock();
    if (wake) not_empty.notify_one();
    return true;
  }

  void run() {
    try {
      produce();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      finished = true;
    }
    not_empty.notify_all();
  }

  void produce() {
    const uint64_t seed = epoch_seed(options.seed, epoch);
    std::mt19937_64 shuffle_rng(splitmix64(seed ^ 0x243f6a8885a308d3ULL));
    const bool shuffle = options.shuffle_buffer > 1;
    const auto capacity = static_cast<size_t>(std::max<int64_t>(options.shuffle_buffer, 1));
    std::vector<PretrainingExample> buffer;

    // Through the reservoir: once it is full, each new example takes the place of a random one, which goes out.
    auto emit = [&](PretrainingExample&& example) {
      if (!shuffle) return push(std::move(example));
      if (buffer.size() < capacity) {
        buffer.push_back(std::move(example));
        return true;
      }
      const size_t j = below(shuffle_rng, buffer.size());
      std::swap(buffer[j], example);
      return push(std::move(example));
    };

    TextSource text(tokenizer, options, seed);
    PretrainingExample example;
    for (const CorpusInput& input : inputs) {
      if (!input.text.empty()) {
        text.open(input.text);
        while (text.next(example, &stop))
          if (!emit(std::move(example))) return;
      } else {
        std::vector<size_t> order(input.shards.shards.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        if (shuffle) {
          for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[below(shuffle_rng, i)]);
        }
        for (size_t index : order) {
          ShardReader reader(input.shards.shards[index], input.shards.max_seq_length);
          while (reader.next(example)) {
            if (stop.load(std::memory_order_relaxed) || !emit(std::move(example))) return;
          }
        }
      }
      if (stop.load()) return;
    }
    // Drain the reservoir in a random order.
    while (!buffer.empty()) {
      const size_t j = below(shuffle_rng, buffer.size());
      std::swap(buffer[j], buffer.back());
      if (!push(std::move(buffer.back()))) return;
      buffer.pop_back();
    }
  }
};

PretrainingStream::PretrainingStream(const Tokenizer& tokenizer, const CorpusOptions& options, int64_t epoch)
    : state_(std::make_unique<State>(tokenizer, options, epoch)) {
  validate(options);
  state_->inputs = resolve_inputs(tokenizer, options);
  state_->producer = std::thread([state = state_.get()] { state->run(); });
}

PretrainingStream::~PretrainingStream() {
  if (!state_) return;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->not_full.notify_all();
  if (state_->producer.joinable()) state_->producer.join();
}

bool PretrainingStream::next(PretrainingExample& out) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  if (s.queue.empty() && !s.finished) {
    const auto start = std::chrono::steady_clock::now();
    s.not_empty.wait(lock, [&] { return !s.queue.empty() || s.finished; });
    s.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  if (s.queue.empty()) {
    if (s.error) std::rethrow_exception(s.error);
    return false;
  }
  out = std::move(s.queue.front());
  s.queue.pop_front();
  ++s.produced;
  // The producer waits only on a full queue: wake it once half of it is free.
  const bool wake = static_cast<int64_t>(s.queue.size()) == s.options.queue_capacity / 2;
  lock.unlock();
  if (wake) s.not_full.notify_one();
  return true;
}

void PretrainingStream::skip(int64_t n) {
  PretrainingExample dropped;
  for (int64_t i = 0; i < n && next(dropped); ++i) {
    crash_point("resume.skip");
    stop_if_signalled("skipping the examples the run has trained on", kRerunUnchanged);
  }
}

int64_t PretrainingStream::produced() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->produced;
}

double PretrainingStream::wait_seconds() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->wait_seconds;
}

}  // namespace electra
