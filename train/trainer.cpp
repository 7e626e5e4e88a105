#include "train/trainer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

#include "common/files.h"
#include "tokenizer/tokenizer.h"
#include "train/autocast.h"
#include "train/batcher.h"
#include "train/optimizer.h"

namespace electra {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr uint64_t kDevCarveSeed = 20231;
constexpr const char* kStateFile = "training_state.pt";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void to_device(Batch& b, const torch::Device& device) {
  if (device.is_cpu()) return;
  b.input_ids = b.input_ids.to(device);
  b.attention_mask = b.attention_mask.to(device);
  b.token_type_ids = b.token_type_ids.to(device);
  for (at::Tensor* t : {&b.targets.labels, &b.targets.start_positions, &b.targets.end_positions}) {
    if (t->defined()) *t = t->to(device);
  }
}

torch::Device model_device(const ElectraModel& model) {
  for (const auto& p : model.module()->parameters()) return p.device();
  return torch::kCPU;
}

std::vector<float> row(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

json metrics_json(const Metrics& m) {
  json j = json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

std::vector<Feature> featurize(const Task& task, const std::vector<Example>& examples, const Tokenizer& tokenizer,
                               const DatasetOptions& data) {
  FeatureOptions fo;
  fo.max_seq_length = data.max_seq_length;
  fo.doc_stride = data.doc_stride;
  fo.max_query_length = data.max_query_length;
  return task.featurize(examples, tokenizer, fo);
}

void append_line(const fs::path& file, const json& line) {
  std::ofstream out(file, std::ios::app);
  out << line.dump() << "\n";
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", file.string()));
}

// Keeps the metrics.jsonl lines up to `step` (a resumed run repeats what came after).
void truncate_metrics(const fs::path& file, int64_t step) {
  if (!fs::exists(file)) return;
  std::istringstream in(read_file(file));
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("step") || j["step"].get<int64_t>() <= step) kept += line + "\n";
  }
  write_file_atomic(file, kept);
}

json versions() {
  return {{"electra", ELECTRA_VERSION}, {"libtorch", TORCH_VERSION}};
}

// Progress: a redrawn line on a terminal, plain log lines otherwise.
class Progress {
 public:
  Progress(std::ostream& out, int64_t total_steps)
      : out_(out), total_(total_steps), tty_(&out == &std::cerr && isatty(fileno(stderr))) {}
  void update(int64_t step, double epoch, double loss, double lr, double examples_per_s, double elapsed,
              bool log_line) {
    const double eta = step > 0 ? elapsed / step * static_cast<double>(total_ - step) : 0.0;
    const std::string text = fmt::format("step {}/{} epoch {:.2f} loss {:.4f} lr {:.3e} {:.1f} ex/s ETA {:.0f}s",
                                         step, total_, epoch, loss, lr, examples_per_s, eta);
    if (tty_) {
      const int width = 30;
      const int filled = total_ > 0 ? static_cast<int>(width * step / total_) : width;
      out_ << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << text << "\x1b[K"
           << std::flush;
    } else if (log_line) {
      out_ << text << "\n" << std::flush;
    }
  }
  void message(const std::string& text) {
    if (tty_) out_ << "\r\x1b[K";
    out_ << text << "\n" << std::flush;
  }
  void finish() {
    if (tty_) out_ << "\n";
  }

 private:
  std::ostream& out_;
  int64_t total_;
  bool tty_;
};

struct TrainState {
  int64_t step = 0, epoch = 0, batch_in_epoch = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  int64_t best_step = -1, bad_evals = 0, last_eval_step = -1;
  int64_t examples_seen = 0;
  double train_seconds = 0;
  bool stopped_early = false;
  double window_loss = 0;  // loss summed since the last metrics.jsonl line
  int64_t window_steps = 0;
};

void save_state(const fs::path& file, const ElectraModel& model, const AdamW& optimizer, const TrainState& s,
                const torch::Device& device) {
  torch::serialize::OutputArchive archive;
  for (const auto& [name, p] : model.named_parameters()) archive.write("model." + name, p.detach().cpu());
  for (const auto& [name, t] : optimizer.state()) archive.write("optim." + name, t.cpu());
  archive.write("rng.cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (device.is_cuda()) archive.write("rng.cuda", at::globalContext().defaultGenerator(device).get_state());
  const json meta = {{"step", s.step},
                     {"epoch", s.epoch},
                     {"batch_in_epoch", s.batch_in_epoch},
                     {"best_score", std::isfinite(s.best_score) ? json(s.best_score) : json(nullptr)},
                     {"best_step", s.best_step},
                     {"bad_evals", s.bad_evals},
                     {"last_eval_step", s.last_eval_step},
                     {"examples_seen", s.examples_seen},
                     {"train_seconds", s.train_seconds},
                     {"stopped_early", s.stopped_early},
                     {"window_loss", s.window_loss},
                     {"window_steps", s.window_steps},
                     {"optimizer_steps", optimizer.steps()}};
  const std::string text = meta.dump();
  archive.write("meta", torch::from_blob(const_cast<char*>(text.data()), {static_cast<int64_t>(text.size())},
                                         torch::kUInt8)
                            .clone());
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomic(file, bytes.str());
}

TrainState load_state(const fs::path& file, ElectraModel& model, AdamW& optimizer, const torch::Device& device) {
  if (!fs::exists(file)) {
    throw std::runtime_error(fmt::format("cannot resume: {} does not exist (no training state saved yet)",
                                         file.string()));
  }
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.string());
  } catch (const c10::Error& e) {
    throw std::runtime_error(fmt::format("cannot read training state {}: {}", file.string(), e.what_without_backtrace()));
  }
  auto read = [&](const std::string& key) {
    at::Tensor t;
    if (!archive.try_read(key, t)) throw std::runtime_error(fmt::format("{}: lacks '{}'", file.string(), key));
    return t;
  };
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, p] : model.named_parameters()) {
      const at::Tensor t = read("model." + name);
      if (t.sizes() != p.sizes()) {
        throw std::runtime_error(fmt::format("{}: '{}' has shape {}, the model {}", file.string(), name,
                                             fmt::join(t.sizes(), "x"), fmt::join(p.sizes(), "x")));
      }
      p.copy_(t);
    }
  }
  const at::Tensor meta_bytes = read("meta");
  const json meta = json::parse(std::string(reinterpret_cast<const char*>(meta_bytes.data_ptr<uint8_t>()),
                                            static_cast<size_t>(meta_bytes.numel())));
  TensorMap moments;
  for (const auto& slot : optimizer.slots()) {
    for (const char* prefix : {"exp_avg.", "exp_avg_sq."}) {
      moments[prefix + slot.name] = read(std::string("optim.") + prefix + slot.name).to(device);
    }
  }
  optimizer.load_state(moments, meta.at("optimizer_steps").get<int64_t>());
  at::Generator cpu_generator = at::detail::getDefaultCPUGenerator();
  cpu_generator.set_state(read("rng.cpu"));
  at::Tensor cuda_rng;
  if (device.is_cuda() && archive.try_read("rng.cuda", cuda_rng)) {
    at::Generator cuda_generator = at::globalContext().defaultGenerator(device);
    cuda_generator.set_state(cuda_rng);
  }
  TrainState s;
  s.step = meta.at("step");
  s.epoch = meta.at("epoch");
  s.batch_in_epoch = meta.at("batch_in_epoch");
  s.best_score = meta.at("best_score").is_null() ? -std::numeric_limits<double>::infinity()
                                                 : meta.at("best_score").get<double>();
  s.best_step = meta.at("best_step");
  s.bad_evals = meta.at("bad_evals");
  s.last_eval_step = meta.at("last_eval_step");
  s.examples_seen = meta.at("examples_seen");
  s.train_seconds = meta.at("train_seconds");
  s.stopped_early = meta.at("stopped_early");
  s.window_loss = meta.at("window_loss");
  s.window_steps = meta.at("window_steps");
  return s;
}

// Encoder parameters (the head excluded), the count the published tables quote.
int64_t encoder_parameters(const ElectraModel& model) {
  int64_t n = 0;
  const int64_t head_depth = model.config().num_hidden_layers + 1;
  for (const auto& [name, p] : model.named_parameters()) {
    if (model.parameter_depth(name) < head_depth) n += p.numel();
  }
  return n;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

}  // namespace

std::string resolve_device(const std::string& device) {
  if (device == "cpu") return "cpu";
  if (device == "cuda" || device == "auto") {
    if (torch::cuda::is_available()) return "cuda";
    if (device == "cuda") {
      throw std::invalid_argument("device 'cuda' asked for, but LibTorch finds no CUDA device here (use cpu or auto)");
    }
    return "cpu";
  }
  throw std::invalid_argument(fmt::format("unknown device '{}' (known: cpu, cuda, auto)", device));
}

TaskData load_task_data(const Task& task, const DatasetOptions& data) {
  TaskData out;
  const auto files = task.files();
  ReadOptions ro;
  ro.skip_bad_rows = data.skip_bad_rows;
  auto read_split = [&](Split split) {
    std::vector<Example> examples;
    for (const auto& name : files.at(split)) {
      const fs::path file = fs::path(data.data_dir) / name;
      if (!fs::exists(file)) {
        throw std::runtime_error(fmt::format("missing data file {} ({} split of task '{}'; set data.data_dir or "
                                             "--data-dir)",
                                             file.string(), to_string(split), task.name()));
      }
      ReadResult r = task.read(file, ro);
      for (auto& w : r.warnings) out.warnings.push_back(w);
      if (r.skipped_bad_rows > 0) {
        out.warnings.push_back(fmt::format("{}: skipped {} malformed rows", file.string(), r.skipped_bad_rows));
      }
      if (r.skipped_by_rule > 0) {
        out.warnings.push_back(
            fmt::format("{}: dropped {} rows as the published setup does", file.string(), r.skipped_by_rule));
      }
      std::move(r.examples.begin(), r.examples.end(), std::back_inserter(examples));
    }
    return examples;
  };
  if (!files.count(Split::train)) throw std::invalid_argument(fmt::format("task '{}' has no train split", task.name()));
  out.train = read_split(Split::train);
  if (files.count(Split::test)) {
    out.test = read_split(Split::test);
    out.has_test = true;
  }
  const bool task_has_dev = files.count(Split::dev) > 0;
  if (data.dev_from_train > 0) {
    std::vector<int64_t> order(out.train.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(kDevCarveSeed);
    for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i) {
      std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
    }
    const auto n_dev = static_cast<size_t>(std::llround(data.dev_from_train * static_cast<double>(order.size())));
    if (n_dev == 0 || n_dev >= order.size()) {
      throw std::invalid_argument(fmt::format("data.dev_from_train {} leaves no dev or no train examples out of {}",
                                              data.dev_from_train, order.size()));
    }
    std::vector<bool> is_dev(order.size(), false);
    for (size_t i = 0; i < n_dev; ++i) is_dev[order[i]] = true;
    std::vector<Example> train;
    for (size_t i = 0; i < out.train.size(); ++i) (is_dev[i] ? out.dev : train).push_back(std::move(out.train[i]));
    out.train = std::move(train);
    out.has_dev = true;
    out.dev_carved = true;
    out.dev_source = fmt::format("train ({}% carved, seed {})", data.dev_from_train * 100, kDevCarveSeed);
    if (task_has_dev) out.task_dev = read_split(Split::dev);
  } else if (task_has_dev) {
    out.dev = read_split(Split::dev);
    out.has_dev = true;
    out.dev_source = "dev";
  } else {
    out.dev_source = fmt::format("none: task '{}' has no dev split; the last step's model is used", task.name());
  }
  if (data.swap_pairs) {
    const size_t n = out.train.size();
    for (size_t i = 0; i < n; ++i) {
      if (!out.train[i].text_b) continue;
      Example swapped = out.train[i];
      swapped.text_a = *out.train[i].text_b;
      swapped.text_b = out.train[i].text_a;
      out.train.push_back(std::move(swapped));
    }
  }
  if (out.train.empty()) throw std::runtime_error(fmt::format("task '{}': no training examples read", task.name()));
  return out;
}

LoadOptions load_options_for(const Task& task) {
  LoadOptions lo;
  switch (task.head()) {
    case HeadKind::sequence_classification:
      lo.architecture = Architecture::sequence_classification;
      lo.id2label = task.labels();
      break;
    case HeadKind::regression:
      lo.architecture = Architecture::sequence_classification;
      lo.id2label = {"LABEL_0"};
      lo.problem_type = "regression";
      break;
    case HeadKind::token_classification:
      lo.architecture = Architecture::token_classification;
      lo.id2label = task.labels();
      break;
    case HeadKind::span_extraction:
      lo.architecture = Architecture::question_answering;
      break;
  }
  return lo;
}

EvalResult evaluate(const ElectraModel& model, const Task& task, const std::vector<Example>& examples,
                    const std::vector<Feature>& features, const EvalOptions& options) {
  const auto start = Clock::now();
  torch::NoGradGuard no_grad;
  const bool was_training = model.module()->is_training();
  model.module()->eval();
  const torch::Device device = model_device(model);
  // Longest first, so each batch pads little; outputs go back to feature order.
  std::vector<int64_t> order(features.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return features[a].input_ids.size() > features[b].input_ids.size(); });
  std::vector<FeatureOutput> outputs(features.size());
  for (const auto& indices : chunk(order, options.batch_size)) {
    Batch batch = collate(features, indices, task.head(), options.bucket_multiple, options.max_seq_length, false);
    to_device(batch, device);
    ModelOutput out;
    {
      AutocastGuard autocast(options.bf16 && device.is_cuda());
      out = model.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids);
    }
    const at::Tensor logits = out.logits.defined() ? out.logits.to(torch::kFloat).cpu() : at::Tensor();
    const at::Tensor starts = out.start_logits.defined() ? out.start_logits.to(torch::kFloat).cpu() : at::Tensor();
    const at::Tensor ends = out.end_logits.defined() ? out.end_logits.to(torch::kFloat).cpu() : at::Tensor();
    for (size_t r = 0; r < indices.size(); ++r) {
      const int64_t fi = indices[r];
      const auto len = static_cast<int64_t>(features[fi].input_ids.size());
      FeatureOutput& fo = outputs[fi];
      switch (task.head()) {
        case HeadKind::sequence_classification:
        case HeadKind::regression:
          fo.logits = row(logits[r]);
          break;
        case HeadKind::token_classification:
          fo.logits = row(logits[r].slice(0, 0, len));
          break;
        case HeadKind::span_extraction:
          fo.start_logits = row(starts[r].slice(0, 0, len));
          fo.end_logits = row(ends[r].slice(0, 0, len));
          break;
      }
    }
  }
  if (was_training) model.module()->train();
  EvalResult result;
  result.predictions = task.decode(examples, features, outputs, options.decode);
  result.metrics = task.score(examples, result.predictions);
  result.seconds = seconds_since(start);
  return result;
}

void write_predictions(const fs::path& file, const std::vector<std::string>& predictions) {
  std::string text;
  for (const auto& p : predictions) text += p + "\n";
  write_file_atomic(file, text);
}

RunOutcome run_seed(const ExperimentOptions& options, int64_t seed, const fs::path& run_dir,
                    const RunControl& control) {
  std::ostream& log = control.log ? *control.log : std::cerr;
  const auto wall_start = Clock::now();
  const Task& task = find_task(options.task);
  const torch::Device device(resolve_device(options.device));
  const bool bf16 = options.train.bf16 && device.is_cuda();
  const bool tf32 = options.train.tf32 && device.is_cuda();
  // "high" lets cuBLAS use TF32 tensor cores for fp32 products (torch.backends.cuda.matmul.allow_tf32 = True).
  if (device.is_cuda()) at::globalContext().setFloat32MatmulPrecision(tf32 ? "high" : "highest");
  fs::create_directories(run_dir / "state");
  const fs::path state_file = run_dir / "state" / kStateFile;
  const fs::path metrics_file = run_dir / "metrics.jsonl";
  if (!control.resume && fs::exists(state_file)) {
    throw std::invalid_argument(fmt::format("{} already holds a run; resume it with --resume {} or choose another "
                                            "output_dir",
                                            run_dir.string(), run_dir.string()));
  }
  write_file_atomic(run_dir / "config.yaml", to_yaml(options));

  const Tokenizer tokenizer = Tokenizer::from_dir(control.model_dir);
  TaskData data = load_task_data(task, options.data);
  for (const auto& w : data.warnings) log << "warning: " << w << "\n";
  const std::vector<Feature> train_features = featurize(task, data.train, tokenizer, options.data);
  const std::vector<Feature> dev_features =
      data.has_dev ? featurize(task, data.dev, tokenizer, options.data) : std::vector<Feature>{};
  log << fmt::format("task {}: {} train examples ({} features), dev: {} ({} examples), test: {}\n", task.name(),
                     data.train.size(), train_features.size(), data.dev_source, data.dev.size(),
                     data.has_test ? std::to_string(data.test.size()) + " examples" : "none");

  torch::manual_seed(static_cast<uint64_t>(seed));
  ElectraModel model = load_pretrained(control.model_dir, load_options_for(task));
  model.module()->to(device);
  model.module()->train();
  AdamW optimizer(model, options.optimizer);

  const auto n_train = static_cast<int64_t>(train_features.size());
  const int64_t batch_size = options.train.batch_size;
  const int64_t micro_size = batch_size / options.train.gradient_accumulation_steps;
  const int64_t steps_per_epoch = (n_train + batch_size - 1) / batch_size;
  const int64_t total_steps =
      options.train.max_steps > 0
          ? options.train.max_steps
          : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(options.train.epochs * steps_per_epoch)));
  const int64_t warmup = warmup_steps_for(options.schedule, total_steps);
  EvalOptions eval_options;
  eval_options.batch_size = options.train.eval_batch_size;
  eval_options.bucket_multiple = options.data.bucket_multiple;
  eval_options.max_seq_length = options.data.max_seq_length;
  eval_options.bf16 = bf16;

  log << fmt::format("device {}{}{}, AdamW {}\n", device.str(), bf16 ? ", bf16 autocast" : "",
                     tf32 ? ", tf32 matmuls" : "",
                     optimizer.uses_fused_kernel() ? "fused kernel" : "per-tensor updates");

  TrainState s;
  if (control.resume) {
    s = load_state(state_file, model, optimizer, device);
    truncate_metrics(metrics_file, s.step);
    log << fmt::format("resuming {} at step {} (epoch {}, batch {})\n", run_dir.string(), s.step, s.epoch,
                       s.batch_in_epoch);
  } else {
    std::error_code ec;
    fs::remove(metrics_file, ec);
    remove_tree(run_dir / "best");
  }

  Progress progress(log, total_steps);
  const auto train_start = Clock::now();
  const double seconds_before = s.train_seconds;
  int64_t window_examples = 0;
  auto window_start = Clock::now();
  bool stop = s.stopped_early, interrupted = false;

  auto save_best = [&] { save_pretrained(model, run_dir / "best", control.model_dir); };
  auto evaluate_dev = [&] {
    s.last_eval_step = s.step;
    if (!data.has_dev) return;
    const EvalResult r = evaluate(model, task, data.dev, dev_features, eval_options);
    const double main = r.metrics.at("main");
    const bool improved = options.train.select_best && main > s.best_score;
    append_line(metrics_file, {{"type", "eval"},
                               {"split", "dev"},
                               {"step", s.step},
                               {"epoch", static_cast<double>(s.step) / steps_per_epoch},
                               {"metrics", metrics_json(r.metrics)},
                               {"best", improved}});
    progress.message(fmt::format("step {}: dev {} {:.2f}{}", s.step, task.main_metric(), main,
                                 improved ? " (best so far)" : ""));
    if (improved) {
      s.best_score = main;
      s.best_step = s.step;
      s.bad_evals = 0;
      save_best();
    } else if (options.train.select_best && options.train.early_stopping_patience > 0 && ++s.bad_evals >= options.train.early_stopping_patience) {
      progress.message(fmt::format("early stopping: no dev improvement in {} evaluations", s.bad_evals));
      s.stopped_early = true;
      stop = true;
    }
  };
  auto checkpoint = [&] {
    s.train_seconds = seconds_before + seconds_since(train_start);
    save_state(state_file, model, optimizer, s, device);
  };

  while (s.step < total_steps && !stop) {
    const auto batches = chunk(epoch_order(n_train, seed, s.epoch), batch_size);
    for (auto b = static_cast<size_t>(s.batch_in_epoch); b < batches.size() && s.step < total_steps && !stop; ++b) {
      const auto micro = chunk(batches[b], micro_size);
      double step_loss = 0;
      for (const auto& indices : micro) {
        Batch batch = collate(train_features, indices, task.head(), options.data.bucket_multiple,
                              options.data.max_seq_length, true);
        to_device(batch, device);
        at::Tensor loss;
        {
          AutocastGuard autocast(bf16);
          loss = model.loss(model.forward(batch.input_ids, batch.attention_mask, batch.token_type_ids),
                            batch.targets);
        }
        const double value = loss.item<double>();
        if (!std::isfinite(value)) {
          progress.finish();
          throw std::runtime_error(fmt::format(
              "non-finite loss ({}) at step {} (epoch {}); training stopped. Last good training state: {}{}", value,
              s.step + 1, s.epoch + 1, fs::exists(state_file) ? state_file.string() : "none saved yet",
              s.best_step >= 0 ? fmt::format(", best model (step {}): {}", s.best_step, (run_dir / "best").string())
                               : ""));
        }
        step_loss += value / static_cast<double>(micro.size());
        (loss / static_cast<double>(micro.size())).backward();
      }
      const double grad_norm = clip_grad_norm(optimizer.slots(), options.optimizer.max_grad_norm);
      const double lr = options.optimizer.learning_rate * schedule_factor(options.schedule.name, s.step, warmup,
                                                                           total_steps);
      optimizer.step(lr);
      optimizer.zero_grad();
      ++s.step;
      s.batch_in_epoch = static_cast<int64_t>(b) + 1;
      s.examples_seen += static_cast<int64_t>(batches[b].size());
      s.window_loss += step_loss;
      ++s.window_steps;
      window_examples += static_cast<int64_t>(batches[b].size());

      const double epoch_f = static_cast<double>(s.step) / steps_per_epoch;
      const bool log_now = s.step % options.train.logging_every == 0 || s.step == total_steps;
      const double rate = window_examples / std::max(1e-9, seconds_since(window_start));
      progress.update(s.step, epoch_f, step_loss, lr, rate, seconds_since(train_start), log_now);
      if (log_now) {
        append_line(metrics_file, {{"type", "train"},
                                   {"step", s.step},
                                   {"epoch", epoch_f},
                                   {"loss", s.window_loss / static_cast<double>(s.window_steps)},
                                   {"grad_norm", grad_norm},
                                   {"lr", lr},
                                   {"examples_per_s", rate}});
        s.window_loss = 0;
        s.window_steps = 0;
        window_examples = 0;
        window_start = Clock::now();
      }
      if (options.train.eval_every > 0 && s.step % options.train.eval_every == 0) evaluate_dev();
      if (s.batch_in_epoch == static_cast<int64_t>(batches.size())) {
        ++s.epoch;
        s.batch_in_epoch = 0;
        if (options.train.eval_each_epoch && s.last_eval_step != s.step) evaluate_dev();
      }
      if (options.train.save_every > 0 && s.step % options.train.save_every == 0) checkpoint();
      if (control.stop_after_steps > 0 && s.step == control.stop_after_steps && s.step < total_steps) {
        checkpoint();
        interrupted = true;
        stop = true;
      }
    }
  }
  progress.finish();
  RunOutcome outcome;
  outcome.run_dir = run_dir;
  outcome.steps = s.step;
  if (interrupted) {
    log << fmt::format("stopped after step {}; continue with --resume {}\n", s.step, run_dir.string());
    return outcome;
  }
  if (data.has_dev && s.last_eval_step != s.step && !s.stopped_early) evaluate_dev();
  checkpoint();
  const double train_seconds = seconds_before + seconds_since(train_start);

  // The selected model: best on dev, else the last step's.
  std::string selection;
  if (data.has_dev && s.best_step >= 0) {
    model = load_pretrained(run_dir / "best");
    model.module()->to(device);
    selection = fmt::format("best dev {} ({:.4f}) at step {}", task.main_metric(), s.best_score, s.best_step);
  } else {
    save_best();
    selection = fmt::format("last step ({}): {}", s.step,
                            data.has_dev ? "train.select_best is false" : data.dev_source);
  }
  json split_metrics = json::object();
  json results = {{"schema_version", 1},
                  {"task", task.name()},
                  {"model", options.model},
                  {"params", encoder_parameters(model)},
                  {"seed", seed}};
  Metrics reported;
  std::string split;
  if (data.has_dev) {
    const EvalResult r = evaluate(model, task, data.dev, dev_features, eval_options);
    write_predictions(run_dir / (data.dev_carved ? "predictions_dev_carved.txt" : "predictions_dev.txt"),
                      r.predictions);
    if (data.dev_carved) {
      results["dev_carved_metrics"] = metrics_json(r.metrics);
    } else {
      split_metrics["dev"] = metrics_json(r.metrics);
      reported = r.metrics;
      split = "dev";
    }
  }
  if (data.task_dev) {
    const auto features = featurize(task, *data.task_dev, tokenizer, options.data);
    const EvalResult r = evaluate(model, task, *data.task_dev, features, eval_options);
    write_predictions(run_dir / "predictions_dev.txt", r.predictions);
    split_metrics["dev"] = metrics_json(r.metrics);
    reported = r.metrics;
    split = "dev";
  }
  if (data.has_test) {
    const auto features = featurize(task, data.test, tokenizer, options.data);
    const EvalResult r = evaluate(model, task, data.test, features, eval_options);
    write_predictions(run_dir / "predictions_test.txt", r.predictions);
    split_metrics["test"] = metrics_json(r.metrics);
    reported = r.metrics;
    split = "test";
    append_line(metrics_file, {{"type", "eval"}, {"split", "test"}, {"step", s.step}, {"metrics", split_metrics["test"]}});
  }
  if (split.empty()) {
    throw std::runtime_error(fmt::format("task '{}' has neither a dev nor a test split to score", task.name()));
  }
  const double wall = seconds_since(wall_start);
  results["split"] = split;
  results["metrics"] = metrics_json(reported);
  results["main_metric"] = task.main_metric();
  results["split_metrics"] = split_metrics;
  results["steps"] = s.step;
  results["wall_time_s"] = wall;
  results["throughput"] = {{"train_examples_per_s", train_seconds > 0 ? s.examples_seen / train_seconds : 0.0}};
  results["versions"] = versions();
  results["dev_source"] = data.dev_source;
  results["selection"] = selection;
  results["best_step"] = s.best_step;
  results["epochs"] = static_cast<double>(s.step) / steps_per_epoch;
  results["stopped_early"] = s.stopped_early;
  results["train_examples"] = data.train.size();
  results["train_time_s"] = train_seconds;
  results["device"] = device.str();
  write_file_atomic(run_dir / "results.json", results.dump(2) + "\n");
  log << fmt::format("{} ({}): {} {} = {:.2f}  [{}]\n", task.name(), split, split, task.main_metric(),
                     reported.count("main") ? reported.at("main") : 0.0, selection);
  outcome.finished = true;
  outcome.reported = reported;
  outcome.split = split;
  return outcome;
}

ModelEvalOutcome evaluate_model(const ModelEvalOptions& options) {
  const auto start = Clock::now();
  const Task& task = find_task(options.task);
  const Split split = parse_split(options.split);
  if (split == Split::train) throw std::invalid_argument("electra eval scores the dev or test split, not train");
  const auto files = task.files();
  if (!files.count(split)) {
    throw std::invalid_argument(fmt::format("task '{}' has no {} split (it has: {})", task.name(), options.split,
                                            files.count(Split::dev) ? "train, dev" : "train, test"));
  }
  const torch::Device device(resolve_device(options.device));
  const Tokenizer tokenizer = Tokenizer::from_dir(options.model_dir);
  ElectraModel model = load_pretrained(options.model_dir);
  const ElectraConfig& config = model.config();
  const LoadOptions wanted = load_options_for(task);
  if (config.architecture != wanted.architecture ||
      (task.head() != HeadKind::span_extraction && config.num_labels() != static_cast<int64_t>(wanted.id2label.size()))) {
    throw std::runtime_error(fmt::format("{}: a {} with {} labels does not fit task '{}' ({} with {} labels)",
                                         (options.model_dir / "config.json").string(), to_hf_class(config.architecture),
                                         config.num_labels(), task.name(), to_hf_class(wanted.architecture),
                                         wanted.id2label.size()));
  }
  if (task.head() == HeadKind::sequence_classification || task.head() == HeadKind::token_classification) {
    if (config.id2label != wanted.id2label) {
      throw std::runtime_error(fmt::format("{}: labels [{}] differ from task '{}' labels [{}]",
                                           (options.model_dir / "config.json").string(),
                                           fmt::join(config.id2label, ", "), task.name(),
                                           fmt::join(wanted.id2label, ", ")));
    }
  }
  model.module()->to(device);
  ReadOptions ro;
  ro.skip_bad_rows = options.data.skip_bad_rows;
  std::vector<Example> examples;
  for (const auto& name : files.at(split)) {
    const fs::path file = fs::path(options.data.data_dir) / name;
    if (!fs::exists(file)) {
      throw std::runtime_error(fmt::format("missing data file {} ({} split of task '{}'; pass --data-dir)",
                                           file.string(), options.split, task.name()));
    }
    ReadResult r = task.read(file, ro);
    std::move(r.examples.begin(), r.examples.end(), std::back_inserter(examples));
  }
  const auto features = featurize(task, examples, tokenizer, options.data);
  EvalOptions eo;
  eo.batch_size = options.batch_size;
  eo.bucket_multiple = options.data.bucket_multiple;
  eo.max_seq_length = options.data.max_seq_length;
  const EvalResult r = evaluate(model, task, examples, features, eo);
  const json results = {{"schema_version", 1},
                        {"task", task.name()},
                        {"model", options.model.empty() ? options.model_dir.string() : options.model},
                        {"params", encoder_parameters(model)},
                        {"seed", 0},
                        {"split", options.split},
                        {"metrics", metrics_json(r.metrics)},
                        {"main_metric", task.main_metric()},
                        {"split_metrics", {{options.split, metrics_json(r.metrics)}}},
                        {"wall_time_s", seconds_since(start)},
                        {"throughput", {{"eval_examples_per_s", examples.size() / std::max(1e-9, r.seconds)}}},
                        {"versions", versions()},
                        {"examples", examples.size()},
                        {"device", device.str()}};
  return {r.metrics, r.predictions, results.dump(2) + "\n"};
}

std::vector<RunOutcome> run_experiment(const ExperimentOptions& options, const RunControl& control) {
  validate(options);
  find_task(options.task);
  const fs::path output_dir = options.output_dir.empty() ? fs::path("runs") / options.task : fs::path(options.output_dir);
  std::vector<RunOutcome> outcomes;
  if (options.seeds.size() == 1) {
    outcomes.push_back(run_seed(options, options.seeds[0], output_dir, control));
    return outcomes;
  }
  fs::create_directories(output_dir);
  write_file_atomic(output_dir / "config.yaml", to_yaml(options));
  for (const int64_t seed : options.seeds) {
    const fs::path dir = output_dir / fmt::format("seed-{}", seed);
    if (fs::exists(dir / "results.json")) {
      const json r = json::parse(read_file(dir / "results.json"));
      RunOutcome done;
      done.run_dir = dir;
      done.finished = true;
      done.split = r.at("split").get<std::string>();
      done.steps = r.at("steps").get<int64_t>();
      for (const auto& [k, v] : r.at("metrics").items()) done.reported[k] = v.get<double>();
      (control.log ? *control.log : std::cerr) << "seed " << seed << ": already finished in " << dir.string() << "\n";
      outcomes.push_back(done);
      continue;
    }
    RunControl c = control;
    c.resume = control.resume && fs::exists(dir / "state" / kStateFile);
    outcomes.push_back(run_seed(options, seed, dir, c));
    if (!outcomes.back().finished) return outcomes;
  }
  json runs = json::array();
  std::map<std::string, std::vector<double>> values;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    runs.push_back({{"seed", options.seeds[i]},
                    {"run_dir", outcomes[i].run_dir.filename().string()},
                    {"metrics", metrics_json(outcomes[i].reported)}});
    for (const auto& [k, v] : outcomes[i].reported) values[k].push_back(v);
  }
  Metrics med;
  for (const auto& [k, v] : values) med[k] = median(v);
  const json summary = {{"task", find_task(options.task).name()},
                        {"model", options.model},
                        {"seeds", options.seeds},
                        {"split", outcomes.front().split},
                        {"main_metric", find_task(options.task).main_metric()},
                        {"metrics", metrics_json(med)},
                        {"aggregate", "median"},
                        {"runs", runs},
                        {"versions", versions()}};
  write_file_atomic(output_dir / "summary.json", summary.dump(2) + "\n");
  (control.log ? *control.log : std::cerr)
      << fmt::format("median over {} seeds: {} = {:.2f}\n", options.seeds.size(),
                     find_task(options.task).main_metric(), med.count("main") ? med.at("main") : 0.0);
  return outcomes;
}

}  // namespace electra
