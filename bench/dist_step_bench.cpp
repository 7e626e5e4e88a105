// Data-parallel fine-tuning step on the CPU: ELECTRA-small (12 layers, hidden 256, 32k vocabulary, two labels) at one
// global batch, first 1 process with T threads, then R ranks (`electra finetune --nproc R`'s launcher, Gloo on
// 127.0.0.1) with T / R threads each, every rank taking its share of each global batch and the gradients summed by
// the all-reduce. Prints the median step time of each, their ratio and the time the ranks spend in the all-reduce.
//
// usage: dist_step_bench [--batch 32] [--seq 128] [--steps 10] [--warmup 2] [--threads 2] [--ranks 2]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "architectures/electra_model.h"
#include "dist/communicator.h"
#include "dist/environment.h"
#include "dist/launch.h"
#include "model/config.h"
#include "train/batcher.h"
#include "train/optimizer.h"
#include "train/step.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int64_t batch = 32, seq = 128, steps = 10, warmup = 2;
  int threads = 2, ranks = 2;
  double single_ms = 0;  // ranks: the single-process median, for the ratio
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", key));
    const std::string value = argv[++i];
    if (key == "--batch") a.batch = std::stoll(value);
    else if (key == "--seq") a.seq = std::stoll(value);
    else if (key == "--steps") a.steps = std::stoll(value);
    else if (key == "--warmup") a.warmup = std::stoll(value);
    else if (key == "--threads") a.threads = std::stoi(value);
    else if (key == "--ranks") a.ranks = std::stoi(value);
    else if (key == "--single-ms") a.single_ms = std::stod(value);
    else throw std::invalid_argument(fmt::format("unknown option {}", key));
  }
  return a;
}

electra::ElectraConfig small_config() {
  electra::ElectraConfig c;
  c.vocab_size = 32000;
  c.max_position_embeddings = 512;
  c.embedding_size = 128;
  c.hidden_size = 256;
  c.num_attention_heads = 4;
  c.intermediate_size = 1024;
  c.num_hidden_layers = 12;
  c.hidden_dropout_prob = c.attention_probs_dropout_prob = 0.0;
  c.architecture = electra::Architecture::sequence_classification;
  c.id2label = electra::default_labels(2);
  return c;
}

struct Timing {
  double median_ms = 0;
  double all_reduce_ms = 0;  // per step, mean
  int64_t buckets = 0, early = 0;  // gradient buckets, and how many started during the backward pass
};

// Steps of the global batch on this rank (its share when comm is distributed).
Timing run_steps(const Args& a, electra::Communicator& comm) {
  at::manual_seed(1);
  electra::ElectraModel model(small_config());
  model.module()->train();
  electra::OptimizerOptions oo;
  electra::AdamW optimizer(model, oo);
  electra::TrainStep step(model, optimizer, 1.0, false, &comm);
  std::mt19937 rng(3);
  std::vector<electra::Feature> features(static_cast<size_t>(a.batch));
  std::vector<int64_t> indices;
  for (size_t i = 0; i < features.size(); ++i) {
    for (int64_t t = 0; t < a.seq; ++t) {
      features[i].input_ids.push_back(5 + static_cast<int64_t>(rng() % 31000));
      features[i].token_type_ids.push_back(0);
    }
    features[i].label = static_cast<int64_t>(rng() % 2);
    indices.push_back(static_cast<int64_t>(i));
  }
  const auto head = electra::HeadKind::sequence_classification;
  std::vector<electra::Batch> batches{
      comm.distributed() ? electra::collate_share(features, indices, head, 32, a.seq, comm.rank(), comm.world_size())
                         : electra::collate(features, indices, head, 32, a.seq, true)};
  std::vector<double> times;
  double reduce_before = 0;
  int64_t buckets = 0, early = 0;
  for (int64_t s = 0; s < a.warmup + a.steps; ++s) {
    if (s == a.warmup) reduce_before = comm.all_reduce_seconds();
    const auto t0 = Clock::now();
    const auto result = step.run(batches, 1e-5);
    buckets = result.buckets;
    early = result.buckets_started_in_backward;
    if (s >= a.warmup) times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  Timing t;
  t.median_ms = times[times.size() / 2];
  t.all_reduce_ms = (comm.all_reduce_seconds() - reduce_before) * 1000 / static_cast<double>(a.steps);
  t.buckets = buckets;
  t.early = early;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    const electra::DistEnv env = electra::read_dist_env();
    if (env.distributed()) {
      at::set_num_threads(std::max(1, a.threads / env.world_size));
      auto comm = electra::connect(env, electra::DistOptions{}, false);
      const Timing t = run_steps(a, *comm);
      if (env.rank == 0) {
        fmt::print("{} ranks x {} thread(s): median step {:.1f} ms, all-reduce {:.1f} ms per step ({:.1f} %; "
                   "{} of {} gradient buckets started during the backward pass); ratio to 1 process: {:.3f}\n",
                   env.world_size, at::get_num_threads(), t.median_ms, t.all_reduce_ms,
                   100 * t.all_reduce_ms / t.median_ms, t.early, t.buckets, t.median_ms / a.single_ms);
      }
      return 0;
    }
    at::set_num_threads(a.threads);
    electra::Communicator alone;
    const Timing one = run_steps(a, alone);
    fmt::print("ELECTRA-small, global batch {} x {} tokens, {} steps after {} warm-up\n", a.batch, a.seq, a.steps,
               a.warmup);
    fmt::print("1 process x {} thread(s): median step {:.1f} ms\n", a.threads, one.median_ms);
    std::fflush(stdout);
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    args.emplace_back("--single-ms");
    args.push_back(fmt::format("{}", one.median_ms));
    electra::LaunchOptions launch;
    launch.nproc = a.ranks;
    launch.timeout_s = 120;
    ::setenv("OMP_NUM_THREADS", std::to_string(std::max(1, a.threads / a.ranks)).c_str(), 1);
    electra::launch_local_ranks(args, launch);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "dist_step_bench: " << e.what() << "\n";
    return 1;
  }
}
