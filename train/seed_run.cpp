#include "train/seed_run.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "common/crash_point.h"
#include "common/stop_signal.h"
#include "dist/communicator.h"
#include "model/runtime.h"
#include "train/selection.h"

namespace electra {

SeedRun::SeedRun(const Task& task, const ExperimentOptions& options, int64_t seed, const RunDirectory& dir,
                 const RunControl& control, const Tokenizer& tokenizer, const RunData& data, ElectraModel& model,
                 AdamW& optimizer, const c10::Device& device, const StepPlan& plan, TrainState state,
                 Communicator& comm)
    : task_(task),
      options_(options),
      seed_(seed),
      dir_(dir),
      control_(control),
      log_(control.log ? *control.log : std::cerr),
      tokenizer_(tokenizer),
      data_(data),
      model_(model),
      optimizer_(optimizer),
      device_(device),
      plan_(plan),
      s_(state),
      progress_(log_, plan.total_steps),
      seconds_before_(state.train_seconds),
      comm_(comm),
      writer_(comm.rank() == 0) {
  eval_options_.comm = &comm;
  eval_options_.batch_size = options.train.eval_batch_size;
  eval_options_.bucket_multiple = padding_multiple(options.data.bucket_multiple, device.is_cuda());
  eval_options_.max_seq_length = options.data.max_seq_length;
  eval_options_.bf16 = options.train.bf16 && device.is_cuda();
}

void dump_features(const std::filesystem::path& file, const std::vector<Feature>& features) {
  std::string text;
  for (const Feature& f : features) {
    const nlohmann::json j = {
        {"input_ids", f.input_ids},       {"token_type_ids", f.token_type_ids}, {"label", f.label},
        {"score", f.score},               {"token_labels", f.token_labels},     {"start_position", f.start_position},
        {"end_position", f.end_position}, {"example_index", f.example_index},   {"offsets", f.offsets},
        {"words_truncated", f.words_truncated}};
    text += j.dump() + "\n";
  }
  write_file_atomic(file, text);
}

std::vector<Batch> SeedRun::micro_batches(const std::vector<int64_t>& batch) const {
  const int64_t micro_size = options_.train.batch_size / options_.train.gradient_accumulation_steps;
  const int64_t bucket_multiple = padding_multiple(options_.data.bucket_multiple, device_.is_cuda());
  std::vector<Batch> out;
  for (const auto& indices : chunk(batch, micro_size)) {
    if (!comm_.distributed()) {
      out.push_back(collate(data_.train, indices, task_.head(), bucket_multiple, options_.data.max_seq_length, true));
    } else {
      out.push_back(collate_share(data_.train, indices, task_.head(), bucket_multiple, options_.data.max_seq_length,
                                  comm_.rank(), comm_.world_size()));
    }
    move_to(out.back(), device_);
  }
  return out;
}

void SeedRun::dump_step(const std::vector<Batch>& micro, double lr) const {
  nlohmann::json batches = nlohmann::json::array();
  for (const Batch& b : micro) {
    batches.push_back({{"feature_indices", b.feature_indices}, {"length", b.input_ids.size(1)}});
  }
  const std::filesystem::path file = dir_.path() / "batches.jsonl";
  std::ofstream out(file, std::ios::app);
  out << nlohmann::json({{"step", s_.step + 1}, {"epoch", s_.epoch}, {"lr", lr}, {"micro_batches", batches}}).dump() << "\n";
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", file.string()));
}

bool SeedRun::train() {
  TrainStep step(model_, optimizer_, options_.optimizer.max_grad_norm, options_.train.bf16 && device_.is_cuda(),
                 &comm_);
  stop_ = s_.selection.stopped_early;
  train_time_.restart();
  window_time_.restart();
  bool interrupted = false;
  const auto n_train = static_cast<int64_t>(data_.train.size());
  if (s_.step < plan_.total_steps && !stop_ && evaluation_owed() && !evaluate_dev()) {
    interrupted = true;
    stop_ = true;
    stopped_by_ = comm_.agree_on_stop(stop_signal());
  }
  while (s_.step < plan_.total_steps && !stop_) {
    const auto batches = chunk(epoch_order(n_train, seed_, s_.epoch), options_.train.batch_size);
    for (auto b = static_cast<size_t>(s_.batch_in_epoch); b < batches.size() && s_.step < plan_.total_steps && !stop_;
         ++b) {
      const double lr = options_.optimizer.learning_rate *
                        schedule_factor(options_.schedule.name, s_.step, plan_.warmup_steps, plan_.total_steps);
      const std::vector<Batch> micro = micro_batches(batches[b]);
      // A stop between micro-batches abandons the step (one process; TrainStep ignores it with several ranks, which
      // agree on a stop at the step's end).
      const StepResult result = step.run(micro, lr, [] { return stop_signal() != 0; });
      if (result.abandoned) {
        // The step is undone: the state of the step before it (batch b next) is saved, and the resume runs it.
        stopped_by_ = stop_signal();
        checkpoint();
        interrupted = true;
        stop_ = true;
        break;
      }
      if (options_.train.dump_batches && writer_) dump_step(micro, lr);
      if (!result.finite) fail_non_finite(result.bad_loss);
      ++s_.step;
      crash_point(fmt::format("rank{}.step", comm_.rank()));
      s_.batch_in_epoch = static_cast<int64_t>(b) + 1;
      log_step(result, lr, static_cast<int64_t>(batches[b].size()));
      bool evaluated = true;  // false: a stop signal abandoned this step's evaluation
      if (options_.train.eval_every > 0 && s_.step % options_.train.eval_every == 0) evaluated = evaluate_dev();
      if (s_.batch_in_epoch == static_cast<int64_t>(batches.size())) {
        ++s_.epoch;
        s_.batch_in_epoch = 0;
        if (evaluated && options_.train.eval_each_epoch && s_.selection.last_eval_step != s_.step)
          evaluated = evaluate_dev();
      }
      if (evaluated && options_.train.save_every > 0 && s_.step % options_.train.save_every == 0) checkpoint();
      const bool stop_after = control_.stop_after_steps > 0 && s_.step == control_.stop_after_steps;
      // Every rank acts on a stop signal any of them received, at the same step.
      stopped_by_ = comm_.agree_on_stop(stop_signal());
      // An evaluation abandoned at the last step: finish() saves this step's state and stops when it runs it again.
      if ((stop_after || stopped_by_ != 0 || !evaluated) && s_.step < plan_.total_steps) {
        checkpoint();
        interrupted = true;
        stop_ = true;
      }
    }
  }
  progress_.finish();
  if (interrupted && stopped_by_ != 0) {
    log_ << fmt::format("stopped at step {} by {}; rerun the same command to resume\n", s_.step,
                        signal_name(stopped_by_));
  } else if (interrupted) {
    log_ << fmt::format("stopped after step {}; continue with --resume {}\n", s_.step, dir_.path().string());
  }
  if (!interrupted) stopped_by_ = 0;  // a signal after the last step: the run ends as planned
  return !interrupted;
}

void SeedRun::log_step(const StepResult& result, double lr, int64_t batch_examples) {
  s_.examples_seen += batch_examples;
  s_.window_loss += result.loss;
  ++s_.window_steps;
  window_examples_ += batch_examples;
  const double epoch = static_cast<double>(s_.step) / plan_.steps_per_epoch;
  const bool log_now = s_.step % options_.train.logging_every == 0 || s_.step == plan_.total_steps;
  const double rate = window_examples_ / std::max(1e-9, window_time_.seconds());
  progress_.update(s_.step, epoch, result.loss, lr, rate, train_time_.seconds(), log_now);
  if (!log_now) return;
  if (writer_) {
    dir_.append_metrics({{"type", "train"},
                         {"step", s_.step},
                         {"epoch", epoch},
                         {"loss", s_.window_loss / static_cast<double>(s_.window_steps)},
                         {"grad_norm", result.grad_norm},
                         {"lr", lr},
                         {"examples_per_s", rate}});
  }
  s_.window_loss = 0;
  s_.window_steps = 0;
  window_examples_ = 0;
  window_time_.restart();
}

bool SeedRun::evaluation_owed() const {
  if (s_.step == 0 || s_.selection.last_eval_step == s_.step) return false;
  return (options_.train.eval_every > 0 && s_.step % options_.train.eval_every == 0) ||
         (options_.train.eval_each_epoch && s_.batch_in_epoch == 0);
}

bool SeedRun::evaluate_dev() {
  if (!data_.examples.has_dev) {
    s_.selection.last_eval_step = s_.step;
    return true;
  }
  const EvalResult r = evaluate(model_, task_, data_.examples.dev, data_.dev, eval_options_);
  if (r.stopped_by != 0) {
    progress_.message(fmt::format("step {}: dev evaluation abandoned ({})", s_.step, signal_name(r.stopped_by)));
    return false;
  }
  saved_step_ = -1;  // the selection changed: the next state must hold it
  const double main = r.metrics.at("main");
  for (const auto& w : undefined_metric_warnings(r.metrics, fmt::format("{} dev at step {}", task_.name(), s_.step)))
    progress_.message("warning: " + w);
  const SelectionDecision decision = observe_dev_score(s_.selection, options_.train, s_.step, main);
  if (writer_) {
    dir_.append_metrics({{"type", "eval"},
                         {"split", "dev"},
                         {"step", s_.step},
                         {"epoch", static_cast<double>(s_.step) / plan_.steps_per_epoch},
                         {"metrics", metrics_json(r.metrics)},
                         {"best", decision.improved}});
  }
  progress_.message(fmt::format("step {}: dev {} {:.2f}{}", s_.step, task_.main_metric(), main,
                                decision.improved ? " (best so far)" : ""));
  if (decision.improved) save_best();
  if (decision.stop) {
    progress_.message(fmt::format("early stopping: no dev improvement in {} evaluations", s_.selection.bad_evals));
    stop_ = true;
  }
  return true;
}

// The state saved after this names this model as the best: it must be on disk first.
// On several ranks, rank 0 writes it and every rank returns once it is written (they may read it next).
void SeedRun::save_best() {
  if (writer_) {
    save_pretrained(model_, dir_.best_dir(), control_.model_dir);
    sync_directory(dir_.best_dir());
    crash_point("best.saved");
  }
  comm_.barrier("the wait for rank 0 to save best/");
}

void SeedRun::checkpoint() {
  if (saved_step_ == s_.step) return;  // e.g. a signal that came while that state was written
  saved_step_ = s_.step;
  if (!writer_) return;
  s_.train_seconds = seconds_before_ + train_time_.seconds();
  save_training_state(dir_.state_dir(), model_, optimizer_, s_, device_);
}

void SeedRun::fail_non_finite(double loss) {
  progress_.finish();
  const std::filesystem::path state_file = dir_.state_file();
  throw std::runtime_error(fmt::format(
      "non-finite loss ({}) at step {} (epoch {}); training stopped. Last good training state: {}{}", loss,
      s_.step + 1, s_.epoch + 1, std::filesystem::exists(state_file) ? state_file.string() : "none saved yet",
      s_.selection.best_step >= 0
          ? fmt::format(", best model (step {}): {}", s_.selection.best_step, dir_.best_dir().string())
          : ""));
}

}  // namespace electra
