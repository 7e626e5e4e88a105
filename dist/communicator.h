// The collectives the trainer needs, over a c10d process group (Gloo; NCCL where the LibTorch build has it).
// The c10d headers stay in communicator.cpp: this header costs no more than <ATen/core/Tensor.h>.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "dist/environment.h"

namespace electra {

class Communicator {
 public:
  // A single process: every collective returns at once and changes nothing.
  Communicator();
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  // Joins the group `env` describes (see connect() in environment.h).
  static std::shared_ptr<Communicator> join(const DistEnv& env, const DistOptions& options, bool cuda);

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }  // a CUDA rank uses GPU local_rank
  bool distributed() const { return world_size_ > 1; }
  const std::string& backend() const { return backend_; }

  // Sums `tensors` element-wise over the ranks, in place. Tensors of one dtype and device travel in flat buffers of
  // at most `bucket_bytes`, all started before the first is waited for. `what` names the collective in errors.
  void all_reduce_sum(const std::vector<at::Tensor>& tensors, const std::string& what,
                      int64_t bucket_bytes = 25 << 20);
  // Starts summing the contiguous tensor `flat` over the ranks, in place; finish_sums() waits for every sum started.
  // Every rank must start the same sums in the same order.
  void start_sum(const at::Tensor& flat, const std::string& what);
  void finish_sums();

  // Returns once every rank has called it, or throws after `timeout_s` seconds (<= 0: the group's --dist-timeout).
  // A rank that exits meanwhile ends the wait at once.
  void barrier(const std::string& what, double timeout_s = 0);

  // The stop signal (common/stop_signal.h) every rank acts on, so that all stop after the same step: `local` (this
  // rank's, 0 for none) when it has one, else one that another rank received, else 0. A collective: every rank calls
  // it at the same points.
  int agree_on_stop(int local);

  // Seconds spent in all_reduce_sum (flattening, communication, copying back) since the start.
  double all_reduce_seconds() const { return all_reduce_seconds_; }

 private:
  struct Group;
  std::unique_ptr<Group> group_;
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  std::string backend_ = "none";
  double timeout_s_ = 0;
  double all_reduce_seconds_ = 0;
  std::string pending_what_;
};

}  // namespace electra
