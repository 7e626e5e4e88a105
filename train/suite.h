// Suites (`electra finetune --suite`): every task config of configs/<suite>/ run on one model, then the suite's
// leaderboard; or one share of the suite's (task, seed) runs (--shard I/N), or the sbatch job-array script that runs
// every share (--emit slurm). Every rank of a data-parallel job (dist/environment.h) calls the same function.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dist/environment.h"
#include "hub/data.h"
#include "hub/hub.h"
#include "train/options.h"

namespace electra {

// The options of a suite; a single run (`electra finetune --config`) uses the ones it shares with it.
struct SuiteOptions {
  std::string suite;               // korean | glue
  std::string model;               // model directory or hub id, for every task (required)
  std::string configs_dir;         // holds <suite>/<task>.yaml; empty: the source tree's configs/
  std::string output_dir;          // one <task>/ run directory per task; empty: runs/<suite>
  std::string data_dir;            // holds one <task>/ folder per task; empty: task data fetched (default_data_dir())
  std::string data_sources;        // URL table for task data; empty: configs/data_sources.yaml
  bool offline = false;            // download nothing: hub cache and data dir only
  std::string device;              // overrides every config's device; empty: the configs'
  std::vector<int64_t> seeds;      // overrides every config's seeds; empty: the configs'
  std::vector<std::string> sets;   // key=value assignments applied to every config (--set)
  std::string shard;               // "I/N": run the I-th (0-based) of N shares of the (task, seed) list
  bool dump_config = false;        // print each resolved config as YAML instead of running it
  bool force = false;              // start runs whose memory estimate exceeds the limit (--force)
  DistOptions dist;                // backend and timeout of the data-parallel group
};

// Without `shard`: every task of the suite in out/<task> (a finished one skipped, an interrupted one resumed), then
// out/leaderboard_<suite>.md, printed. With `shard` I/N: the I-th share of the (task, seed) pairs, each one run in
// out/<task>/seed-<S>; `electra eval --leaderboard SUITE OUT` collects the shares afterwards. Throws
// std::invalid_argument for a missing model, an unknown suite or a bad shard.
void run_suite(const SuiteOptions& options);

// The sbatch script of a job array that runs the suite's (task, seed) pairs, one per array task, through
// `electra finetune --shard $SLURM_ARRAY_TASK_ID/N` with the same options (paths made absolute).
std::string slurm_script(const SuiteOptions& options);

// The downloads of a run (the model into the hub cache, task data into the data folder) with `options.offline` and
// `options.data_sources`; `cache_only`: a rank that takes both from the caches its machine's local rank 0 filled
// (fetch_once_per_machine), downloads off.
HubOptions hub_options(const SuiteOptions& options, bool cache_only);
DataOptions data_options(const SuiteOptions& options, bool cache_only);

// Loads an experiment config and prints what loading it noticed (a section given twice, ...) on stderr, once per job
// (rank 0).
ExperimentOptions load_job_experiment(const std::filesystem::path& file);

}  // namespace electra
