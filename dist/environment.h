// Where this process stands in a data-parallel job, read the way PyTorch's launchers hand it over: torchrun's
// RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE / MASTER_ADDR / MASTER_PORT, or Slurm's SLURM_PROCID /
// SLURM_NTASKS / SLURM_LOCALID / SLURM_JOB_NODELIST. No tensor here: the commands include this header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace electra {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;                    // picks the GPU of a CUDA rank
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";  // host of rank 0, which serves the rendezvous store
  int master_port = 29500;
  std::string launcher = "none";         // torchrun | slurm | none
  bool agent_store = false;              // torchrun's agent serves the store (TORCHELASTIC_USE_AGENT_STORE)

  bool distributed() const { return world_size > 1; }
};

struct DistOptions {
  std::string backend = "auto";  // auto (nccl for CUDA when built in, else gloo) | gloo | nccl
  double timeout_s = 300;        // a collective or the rendezvous that waits longer ends the rank with an error
};

// Reads the job's environment through `getenv` (std::getenv by default). torchrun's variables win over Slurm's;
// neither: a single process. Bad values throw std::invalid_argument naming the variable.
DistEnv read_dist_env(const std::function<const char*(const char*)>& getenv = nullptr);

// Slurm's compressed host list ("gpu[01-03,07],cpu5") expanded to host names, in order.
std::vector<std::string> expand_nodelist(const std::string& nodelist);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
int free_local_port();

// The positions of `count` items that share `index` of `shares` takes: index, index + shares, ... (0-based).
// Every item lands in exactly one share. Throws std::invalid_argument for index outside [0, shares).
std::vector<size_t> share_of(size_t count, int index, int shares);

// "I/N" → {I, N}; throws std::invalid_argument for anything else.
std::pair<int, int> parse_shard(const std::string& text);

class Communicator;
// The process group of this job (every rank calls it; rank 0 serves the rendezvous store). A single process
// (env.world_size == 1) gets a communicator whose collectives do nothing. Throws std::runtime_error naming the
// rank when the group does not form within options.timeout_s.
std::shared_ptr<Communicator> connect(const DistEnv& env, const DistOptions& options, bool cuda);

// Downloads happen once per machine. In a job of several ranks (`comm` of `connect`), local rank 0 runs
// `fetch(false)` (downloads allowed: the model into the hub cache, task data into the data folder) while the other
// ranks wait at a barrier, then they run `fetch(true)`: cache only, downloads off. So no file is downloaded twice and
// no cache has two writers. The wait lasts up to hours (a base model is ~440 MB), not --dist-timeout: a rank whose
// fetch fails exits, which ends the others' wait at once. A single process (`comm` null or of one rank) runs
// `fetch(false)`.
void fetch_once_per_machine(const DistEnv& env, Communicator* comm, const std::function<void(bool cache_only)>& fetch);

}  // namespace electra
