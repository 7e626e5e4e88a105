#include "dist/communicator.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
// LibTorch builds with CUDA and NCCL (the PyTorch wheels) define USE_C10D_NCCL through the torch_cuda target.
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <csignal>
#include <map>
#include <stdexcept>
#include <utility>

#include "common/stop_signal.h"
#include "common/stopwatch.h"

namespace electra {
namespace {

// c10d's messages carry C++ source locations after a newline; the first line says what happened.
std::string first_line(const std::string& text) {
  const size_t nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl);
}

std::string resolve_backend(const DistOptions& options, bool cuda) {
#ifdef USE_C10D_NCCL
  constexpr bool kHasNccl = true;
#else
  constexpr bool kHasNccl = false;
#endif
  if (options.backend == "gloo") return "gloo";
  if (options.backend == "nccl") {
    if (!kHasNccl) {
      throw std::invalid_argument(
          "--dist-backend nccl: this electra is built against a LibTorch without NCCL; use --dist-backend gloo");
    }
    if (!cuda) throw std::invalid_argument("--dist-backend nccl: NCCL needs CUDA ranks (--device cuda)");
    return "nccl";
  }
  if (options.backend != "auto") {
    throw std::invalid_argument(fmt::format("unknown distributed backend '{}' (known: auto, gloo, nccl)",
                                            options.backend));
  }
  // CUDA ranks sum over NCCL where it is built in; CPU ranks (and CUDA ranks without NCCL: host copies) over Gloo.
  return cuda && kHasNccl ? "nccl" : "gloo";
}

}  // namespace

struct Communicator::Group {
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;  // start_sum()'s
  c10::intrusive_ptr<c10d::Store> store;
#if TORCH_VERSION_MAJOR >= 2
  c10::intrusive_ptr<c10d::Backend> pg;  // LibTorch 2: ProcessGroupGloo is a Backend
#else
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
#endif
  std::chrono::milliseconds timeout{0};
};

Communicator::Communicator() = default;
Communicator::~Communicator() = default;

std::shared_ptr<Communicator> Communicator::join(const DistEnv& env, const DistOptions& options, bool cuda) {
  auto comm = std::make_shared<Communicator>();
  if (!env.distributed()) return comm;
  if (!(options.timeout_s > 0)) {
    throw std::invalid_argument(fmt::format("--dist-timeout {}: must be positive (seconds)", options.timeout_s));
  }
  comm->rank_ = env.rank;
  comm->world_size_ = env.world_size;
  comm->local_rank_ = env.local_rank;
  comm->backend_ = resolve_backend(options, cuda);
  comm->timeout_s_ = options.timeout_s;
  // A rank that dies mid-collective leaves its peers' sockets closed. Gloo writes with writev, and a write to a closed
  // TCP socket raises SIGPIPE, whose default action ends a C++ process without a word (Python ignores SIGPIPE, so
  // PyTorch never meets this). Ignored, the write fails with EPIPE, the collective throws, and this rank says which
  // collective failed and why.
  std::signal(SIGPIPE, SIG_IGN);
  auto group = std::make_unique<Group>();
  group->timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000));
  const std::string where = fmt::format("{}:{}", env.master_addr, env.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(env.master_port);
    so.isServer = env.rank == 0 && !env.agent_store;
    so.numWorkers = static_cast<std::size_t>(env.world_size);
    so.waitWorkers = false;  // the process group's rendezvous below waits, within the timeout
    so.timeout = group->timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
    group->store = c10::make_intrusive<c10d::PrefixStore>("electra", tcp);
#ifdef USE_C10D_NCCL
    if (comm->backend_ == "nccl") {
      auto no = c10d::ProcessGroupNCCL::Options::create();
      no->timeout = group->timeout;
      group->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(group->store, env.rank, env.world_size, no);
      comm->group_ = std::move(group);
      return comm;
    }
#endif
    auto po = c10d::ProcessGroupGloo::Options::create(group->timeout);
    // The address other ranks reach this one at: the loopback for a one-machine job, else this host's name.
    const bool local = env.master_addr == "127.0.0.1" || env.master_addr == "localhost";
    po->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                : c10d::ProcessGroupGloo::createDefaultDevice());
    po->threads = 2;
    group->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(group->store, env.rank, env.world_size, po);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format(
        "rank {} of {}: the process group did not form within {} s (rendezvous store {}): {}", env.rank, env.world_size,
        options.timeout_s, where, first_line(e.what())));
  }
  comm->group_ = std::move(group);
  return comm;
}

void Communicator::all_reduce_sum(const std::vector<at::Tensor>& tensors, const std::string& what,
                                  int64_t bucket_bytes) {
  if (!distributed() || tensors.empty()) return;
  const Stopwatch stopwatch;
  // Buckets: runs of tensors of one dtype and device, at most bucket_bytes each (a larger tensor alone).
  std::vector<std::vector<at::Tensor>> buckets;
  int64_t bytes = 0;
  for (const at::Tensor& t : tensors) {
    const int64_t b = t.numel() * static_cast<int64_t>(t.element_size());
    const bool same_kind = !buckets.empty() && buckets.back().front().scalar_type() == t.scalar_type() &&
                           buckets.back().front().device() == t.device();
    if (buckets.empty() || !same_kind || bytes + b > bucket_bytes) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(t);
    bytes += b;
  }
  std::vector<at::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  try {
    for (const auto& bucket : buckets) {
      std::vector<at::Tensor> views;
      for (const at::Tensor& t : bucket) views.push_back(t.reshape({-1}));
      std::vector<at::Tensor> flat{at::cat(views)};
      flats.push_back(flat.front());
      works.push_back(group_->pg->allreduce(flat));
    }
    for (auto& w : works) {
      if (!w->wait(group_->timeout)) throw std::runtime_error("timed out");
    }
  } catch (const std::exception& e) {
    // A peer that a stop signal ended (common/stop_signal.h): this rank, signalled too, stops the same way.
    if (const int signal = stop_signal()) throw StoppedBySignal(signal);
    throw std::runtime_error(fmt::format(
        "rank {} of {}: {} failed: {} (another rank exited, was killed or stopped answering; collectives wait at "
        "most {} s, --dist-timeout)",
        rank_, world_size_, what, first_line(e.what()), timeout_s_));
  }
  for (size_t b = 0; b < buckets.size(); ++b) {
    int64_t offset = 0;
    for (const at::Tensor& t : buckets[b]) {
      t.copy_(flats[b].narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
  all_reduce_seconds_ += stopwatch.seconds();
}

void Communicator::start_sum(const at::Tensor& flat, const std::string& what) {
  if (!distributed()) return;
  const Stopwatch stopwatch;
  if (group_->pending.empty()) pending_what_ = what;
  try {
    std::vector<at::Tensor> tensors{flat};
    group_->pending.push_back(group_->pg->allreduce(tensors));
  } catch (const std::exception& e) {
    group_->pending.clear();
    if (const int signal = stop_signal()) throw StoppedBySignal(signal);  // as in all_reduce_sum
    throw std::runtime_error(fmt::format(
        "rank {} of {}: {} failed: {} (another rank exited, was killed or stopped answering; collectives wait at "
        "most {} s, --dist-timeout)",
        rank_, world_size_, what, first_line(e.what()), timeout_s_));
  }
  all_reduce_seconds_ += stopwatch.seconds();
}

void Communicator::finish_sums() {
  if (!distributed()) return;
  const Stopwatch stopwatch;
  auto pending = std::move(group_->pending);
  group_->pending.clear();
  try {
    for (auto& w : pending) {
      if (!w->wait(group_->timeout)) throw std::runtime_error("timed out");
    }
  } catch (const std::exception& e) {
    // A peer that a stop signal ended (common/stop_signal.h): this rank, signalled too, stops the same way.
    if (const int signal = stop_signal()) throw StoppedBySignal(signal);
    throw std::runtime_error(fmt::format(
        "rank {} of {}: {} failed: {} (another rank exited, was killed or stopped answering; collectives wait at "
        "most {} s, --dist-timeout)",
        rank_, world_size_, pending_what_, first_line(e.what()), timeout_s_));
  }
  all_reduce_seconds_ += stopwatch.seconds();
}

int Communicator::agree_on_stop(int local) {
  if (!distributed()) return local;
  // How many ranks received each stop signal.
  const int signals[] = {SIGTERM, SIGINT, SIGUSR1};
  at::Tensor counts = at::zeros({3}, at::kLong);
  for (int i = 0; i < 3; ++i)
    if (local == signals[i]) counts[i] = 1;
  if (backend_ == "nccl") counts = counts.to(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(local_rank_)));
  all_reduce_sum({counts}, "the stop-signal check");
  counts = counts.cpu();
  if (local != 0) return local;
  for (int i = 0; i < 3; ++i)
    if (counts[i].item<int64_t>() > 0) return signals[i];
  return 0;
}

void Communicator::barrier(const std::string& what, double timeout_s) {
  if (!distributed()) return;
  const auto timeout = timeout_s > 0 ? std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)) : group_->timeout;
  try {
    c10d::BarrierOptions bo;
    bo.timeout = timeout;
    auto w = group_->pg->barrier(bo);
    if (!w->wait(timeout)) throw std::runtime_error("timed out");
  } catch (const std::exception& e) {
    // A peer that a stop signal ended (common/stop_signal.h): this rank, signalled too, stops the same way.
    if (const int signal = stop_signal()) throw StoppedBySignal(signal);
    throw std::runtime_error(fmt::format(
        "rank {} of {}: {} failed: {} (another rank exited, was killed or stopped answering; this wait lasts at "
        "most {} s)",
        rank_, world_size_, what, first_line(e.what()), timeout_s > 0 ? timeout_s : timeout_s_));
  }
}

std::shared_ptr<Communicator> connect(const DistEnv& env, const DistOptions& options, bool cuda) {
  return Communicator::join(env, options, cuda);
}

void fetch_once_per_machine(const DistEnv& env, Communicator* comm, const std::function<void(bool cache_only)>& fetch) {
  if (comm == nullptr || !comm->distributed()) {
    fetch(false);
    return;
  }
  constexpr double kFetchWaitSeconds = 6 * 3600;
  if (env.local_rank == 0) fetch(false);
  comm->barrier("the wait for local rank 0 to fetch the model and task data", kFetchWaitSeconds);
  if (env.local_rank != 0) fetch(true);
}

}  // namespace electra
