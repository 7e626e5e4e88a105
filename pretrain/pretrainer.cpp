#include "pretrain/pretrainer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <iostream>
#include <stdexcept>

#include "architectures/pretraining_pair.h"
#include "common/stop_signal.h"
#include "corpus/pretraining_data.h"
#include "dist/communicator.h"
#include "dist/environment.h"
#include "model/runtime.h"
#include "pretrain/objective.h"
#include "pretrain/pretrain_memory.h"
#include "tokenizer/tokenizer.h"
#include "train/optimizer.h"
#include "train/run_dir.h"
#include "train/step.h"
#include "train/train_state.h"

namespace electra {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kStateKind = "electra-pretrain";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Where the loop stands; saved with the weights.
struct LoopState {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t examples_in_epoch = 0;  // examples of this epoch's stream already consumed
  double train_seconds = 0;
  double tokens = 0;  // global non-padding tokens trained on
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LoopState, step, epoch, examples_in_epoch, train_seconds, tokens)

// The objective's figures (ObjectiveResult's), summed over a step's micro-batches and ranks, or over a window.
struct ObjectiveSums {
  double mlm_loss = 0, rtd_loss = 0, masked = 0, generator_correct = 0, tokens = 0, discriminator_correct = 0,
         predicted_replaced = 0, replaced = 0, true_replaced = 0;

  // Every figure, in one order (to sum them over the ranks in one tensor).
  std::array<double*, 9> fields() {
    return {&mlm_loss, &rtd_loss, &masked, &generator_correct, &tokens, &discriminator_correct, &predicted_replaced,
            &replaced, &true_replaced};
  }
  void add(const ObjectiveResult& r) {
    mlm_loss += r.mlm_loss.item<double>();
    rtd_loss += r.rtd_loss.item<double>();
    masked += r.masked;
    generator_correct += r.generator_correct;
    tokens += r.tokens;
    discriminator_correct += r.discriminator_correct;
    predicted_replaced += r.predicted_replaced;
    replaced += r.replaced;
    true_replaced += r.true_replaced;
  }
  ObjectiveSums& operator+=(ObjectiveSums other) {
    const auto mine = fields(), theirs = other.fields();
    for (size_t i = 0; i < mine.size(); ++i) *mine[i] += *theirs[i];
    return *this;
  }
  // Sums every rank's figures (on `device`: NCCL sums device tensors only).
  void sum_over_ranks(Communicator* comm, const c10::Device& device) {
    if (comm == nullptr || !comm->distributed()) return;
    const auto values = fields();
    at::Tensor t = at::empty({static_cast<int64_t>(values.size())}, at::kDouble);
    for (size_t i = 0; i < values.size(); ++i) t.data_ptr<double>()[i] = *values[i];
    t = t.to(device);
    comm->all_reduce_sum({t}, "step statistics");
    t = t.cpu();
    for (size_t i = 0; i < values.size(); ++i) *values[i] = t.data_ptr<double>()[i];
  }
};

// A metrics window: the sums of its steps.
struct Window {
  ObjectiveSums figures;
  double loss = 0, grad_norm = 0, data_wait = 0, seconds = 0;
  int64_t steps = 0;
};

void save_state(const fs::path& state_dir, const ElectraPretrainingModelImpl& model, const AdamW& optimizer,
                const LoopState& s) {
  json meta = s;
  meta["kind"] = kStateKind;
  commit_state(state_dir, s.step, model.unique_named_parameters(), optimizer, meta);
}

LoopState load_state(const fs::path& state_dir, ElectraPretrainingModelImpl& model, AdamW& optimizer,
                     const c10::Device& device) {
  CommittedState state(state_dir);
  const json& meta = state.meta();
  if (meta.value("kind", "") != kStateKind)
    throw std::runtime_error(fmt::format("{}: not a pre-training state (a fine-tuning run's?)", state.file().string()));
  state.restore(model.unique_named_parameters(), optimizer, device);
  return meta.get<LoopState>();
}

}  // namespace

CorpusOptions corpus_options(const PretrainOptions& o) {
  CorpusOptions c;
  for (const auto& f : o.data.corpus) c.files.emplace_back(f);
  c.document_format = o.data.document_format;
  c.split_sentences = o.data.split_sentences;
  c.max_seq_length = o.data.max_seq_length;
  c.short_seq_prob = o.data.short_seq_prob;
  c.single_segment_prob = o.data.single_segment_prob;
  c.shuffle_buffer = o.data.shuffle_buffer;
  c.seed = static_cast<uint64_t>(o.train.seed);
  return c;
}

PretrainOutcome run_pretraining(const PretrainOptions& options, const PretrainControl& control) {
  validate_pretrain_options(options);
  std::ostream& log = control.log ? *control.log : std::cerr;
  if (options.vocab.empty()) throw std::invalid_argument("pre-training needs a vocabulary: --vocab DIR (vocab.txt)");
  if (options.data.corpus.empty()) throw std::invalid_argument("pre-training needs a corpus: --corpus FILE...");
  if (options.output_dir.empty()) throw std::invalid_argument("pre-training needs --output-dir DIR");
  for (const auto& f : options.data.corpus)
    if (!fs::exists(f)) throw std::invalid_argument(fmt::format("--corpus: {} does not exist", f));
  const fs::path vocab_dir = fs::is_directory(options.vocab) ? fs::path(options.vocab) : fs::path(options.vocab).parent_path();
  if (!fs::is_regular_file(vocab_dir / "vocab.txt"))
    throw std::invalid_argument(fmt::format("--vocab: {} holds no vocab.txt", options.vocab));
  const Tokenizer tokenizer = Tokenizer::from_dir(vocab_dir);
  const int64_t mask_id = tokenizer.token_to_id("[MASK]");
  if (tokenizer.id_to_token(mask_id) != "[MASK]" || tokenizer.pad_id() < 0)
    throw std::invalid_argument(fmt::format("--vocab: {}/vocab.txt lacks [MASK] or [PAD]", vocab_dir.string()));

  const int rank = control.comm ? control.comm->rank() : 0;
  const int world = control.comm ? control.comm->world_size() : 1;
  const bool writer = rank == 0;
  const int64_t accumulation = options.train.gradient_accumulation_steps;
  if (options.train.batch_size < world * accumulation)
    throw std::invalid_argument(fmt::format("train.batch_size {} is smaller than ranks ({}) x "
                                            "train.gradient_accumulation_steps ({})",
                                            options.train.batch_size, world, accumulation));

  const c10::Device device(resolve_device(options.device) == "cuda" ? fmt::format("cuda:{}", control.comm ? control.comm->local_rank() : 0) : "cpu");
  const ElectraConfig disc_config = discriminator_config(options, tokenizer.vocab_size(), tokenizer.pad_id());
  const ElectraConfig gen_config = generator_config(disc_config, options.model.generator_size);
  // Before the model is built and the folder written: a run that cannot fit is refused with the keys to change.
  {
    const MemoryEstimate estimate = pretrain_estimate(options, tokenizer.vocab_size(), world,
                                                      static_cast<double>(std::max<int64_t>(0, process_status_bytes("VmRSS"))));
    const MemoryHeadroom room = run_headroom(device.is_cuda() ? "cuda" : "cpu");
    if (writer)
      log << fmt::format("memory: {}; this process may add {}\n", estimate.describe(),
                         room.bytes < 0 ? std::string("any amount (no limit found)")
                                        : format_bytes(static_cast<double>(room.bytes)) + " (" + room.source + ")");
    if (!control.force) {
      check_memory(estimate, room, "pre-training");
    } else if (writer && room.bytes >= 0 && estimate.added() > static_cast<double>(room.bytes)) {
      log << fmt::format("warning: memory: the estimate exceeds what this process may add ({}); --force starts "
                         "anyway\n",
                         room.detail);
    }
  }
  at::manual_seed(static_cast<uint64_t>(options.train.seed));
  ElectraPretrainingModel model(disc_config, gen_config);
  model->to(device);
  model->train();
  AdamW optimizer(model->unique_named_parameters(), options.optimizer);
  if (options.objective.disc_lr_scale != 1.0)
    for (const std::string& name : model->discriminator_only_parameter_names())
      optimizer.scale_lr(name, options.objective.disc_lr_scale);

  RunDirectory dir(options.output_dir);
  const fs::path& out = dir.path();
  LoopState s;
  if (control.resume) {
    s = load_state(dir.state_dir(), *model, optimizer, device);
    if (s.step >= options.train.max_steps && fs::is_regular_file(out / "discriminator" / "model.safetensors")) {
      // Finished, its exports written: resuming would only rewrite them.
      if (writer)
        log << fmt::format("{} is finished ({} steps, the discriminator and generator exported); nothing to resume, "
                           "nothing changed (raise train.max_steps to train on)\n",
                           out.string(), s.step);
      PretrainOutcome outcome;
      outcome.output_dir = out;
      outcome.steps = s.step;
      outcome.finished = true;
      outcome.already_finished = true;
      return outcome;
    }
    if (writer) {
      log << fmt::format("resumed {} at step {} (epoch {}, example {} of it)\n", out.string(), s.step, s.epoch,
                         s.examples_in_epoch);
    }
  }
  if (writer) {
    dir.open(to_yaml(options), control.resume);
    dir.check_space(training_state_bytes(model->unique_named_parameters()), "the discriminator and generator exports",
                    {out / "discriminator", out / "generator"});
    // The run repeats the steps after the state: their metrics lines (and a line cut short by a crash) go. A new run
    // starts clean files, whatever a run that died before its first save left.
    if (control.resume) {
      dir.truncate_metrics(s.step);
    } else {
      dir.clear_outputs();
    }
  }

  MaskingOptions masking;
  masking.mask_prob = options.objective.mask_prob;
  masking.max_predictions = max_predictions_per_seq(options);
  masking.mask_token_prob = options.objective.mask_token_prob;
  masking.mask_id = mask_id;
  masking.special_ids = {tokenizer.cls_id(), tokenizer.sep_id(), mask_id, tokenizer.pad_id()};

  const CorpusOptions corpus = corpus_options(options);
  auto stream = std::make_unique<PretrainingStream>(tokenizer, corpus, s.epoch);
  if (s.examples_in_epoch > 0) stream->skip(s.examples_in_epoch);

  const int64_t total = options.train.max_steps;
  const int64_t warmup = warmup_steps_for(options.schedule, total);
  if (const std::string w = warmup_warning(warmup, total); !w.empty()) log << "warning: " << w << "\n";
  const int64_t stop = control.stop_after_steps > 0 ? std::min(total, control.stop_after_steps) : total;
  const uint64_t seed = static_cast<uint64_t>(options.train.seed);
  const auto seconds_at_start = s.train_seconds;
  const double tokens_at_start = s.tokens;
  Window window;
  double last_loss = 0;
  int64_t saved_step = control.resume ? s.step : -1;

  auto save = [&] {
    if (writer) {
      save_state(dir.state_dir(), *model, optimizer, s);
      save_pretraining_pair(*model, out, vocab_dir);
    }
    if (control.comm) control.comm->barrier("checkpoint");
    saved_step = s.step;
  };

  // train.dump_first_step: what the first step of a fresh run computed.
  const bool dump_first = options.train.dump_first_step && writer && !control.resume;
  TensorMap first_step;
  if (dump_first) save_pretraining_pair(*model, out / "initial", vocab_dir);
  const std::function<void()> dump_gradients = [&] {
    for (const auto& slot : optimizer.slots()) {
      const at::Tensor& grad = slot.param.grad();
      first_step["grad." + slot.name] = grad.defined() ? grad.detach().cpu().clone() : at::zeros_like(slot.param).cpu();
    }
  };

  TrainStep step(optimizer, options.optimizer.max_grad_norm, false, control.comm.get());
  std::vector<PretrainingExample> batch;
  int stopped_by = 0;
  while (s.step < stop) {
    const auto step_start = Clock::now();
    // The global batch: every rank reads the same examples.
    batch.clear();
    bool fresh = false;
    while (static_cast<int64_t>(batch.size()) < options.train.batch_size) {
      PretrainingExample example;
      if (stream->next(example)) {
        batch.push_back(std::move(example));
        ++s.examples_in_epoch;
        fresh = false;
        continue;
      }
      if (fresh) throw std::runtime_error("the corpus yields no pre-training example (empty files?)");
      stream.reset();
      ++s.epoch;
      s.examples_in_epoch = 0;
      stream = std::make_unique<PretrainingStream>(tokenizer, corpus, s.epoch);
      fresh = true;
    }
    const double data_wait = seconds_since(step_start);

    // This rank's share of the global batch, in micro-batches. Masks and samples of an example are drawn from its
    // place in the global batch alone, and the losses are normalised by the global batch's counts (google's
    // sum / count over the batch): the shares' losses and gradients add up to the whole batch's on any number of
    // ranks. Only dropout draws per (rank, micro-batch).
    const auto mine = share_of(batch.size(), rank, world);
    const int64_t n_mine = static_cast<int64_t>(mine.size());
    struct Micro {
      PretrainBatch batch;
      MaskedInput masked;
      std::vector<uint64_t> sample_seeds;
    };
    std::vector<Micro> micros;
    at::Tensor counts = at::zeros({2}, at::kDouble);  // chosen positions, non-padding tokens
    for (int64_t micro = 0; micro < accumulation; ++micro) {
      const int64_t begin = n_mine * micro / accumulation, end = n_mine * (micro + 1) / accumulation;
      if (begin == end) continue;
      std::vector<PretrainingExample> part;
      std::vector<uint64_t> mask_seeds, sample_seeds;
      for (int64_t i = begin; i < end; ++i) {
        const size_t global = mine[static_cast<size_t>(i)];
        part.push_back(batch[global]);
        mask_seeds.push_back(draw_seed(seed, s.step, static_cast<int64_t>(global), 0, 0));
        sample_seeds.push_back(draw_seed(seed, s.step, static_cast<int64_t>(global), 0, 1));
      }
      Micro m;
      m.batch = collate(part, tokenizer.pad_id());
      m.masked = mask_examples(m.batch.input_ids, m.batch.attention_mask, masking, mask_seeds);
      m.sample_seeds = std::move(sample_seeds);
      counts[0] += m.masked.positions.sum().item<double>();
      counts[1] += m.batch.attention_mask.sum().item<double>();
      micros.push_back(std::move(m));
    }
    if (control.comm && control.comm->distributed()) {
      counts = counts.to(device);
      control.comm->all_reduce_sum({counts}, "masked and token counts");
      counts = counts.cpu();
    }
    const double total_masked = std::max(1.0, counts[0].item<double>());
    const double total_tokens = std::max(1.0, counts[1].item<double>());

    // Each micro-batch's loss is its part of the global batch's: they (and the ranks') add up.
    const bool dump_now = dump_first && s.step == 0;
    ObjectiveSums figures;
    StepLoss loss;
    loss.weights.assign(micros.size(), 1.0);
    loss.loss = [&](size_t micro) {
      Micro& m = micros[micro];
      at::manual_seed(draw_seed(seed, s.step, rank, static_cast<int64_t>(micro), 2));  // dropout
      MaskedInput masked{m.masked.input_ids.to(device), m.masked.positions.to(device)};
      ObjectiveResult r = electra_objective(*model, m.batch.input_ids.to(device), m.batch.attention_mask.to(device),
                                            m.batch.token_type_ids.to(device), masked,
                                            options.objective.disc_weight, m.sample_seeds, total_masked, total_tokens,
                                            SamplingOptions{options.objective.temperature,
                                                            options.objective.disallow_correct});
      figures.add(r);
      if (dump_now) {
        const std::string tag = std::to_string(micro);
        first_step["input_ids." + tag] = m.batch.input_ids;
        first_step["attention_mask." + tag] = m.batch.attention_mask;
        first_step["token_type_ids." + tag] = m.batch.token_type_ids;
        first_step["masked_input_ids." + tag] = m.masked.input_ids;
        first_step["positions." + tag] = m.masked.positions.to(at::kLong);
        first_step["discriminator_input." + tag] = r.discriminator_input.cpu();
      }
      return r.loss;
    };
    const double lr = options.optimizer.learning_rate * schedule_factor(options.schedule.name, s.step, warmup, total);
    const StepResult result = step.run(loss, lr, dump_now ? dump_gradients : std::function<void()>());
    if (!result.finite) {
      throw std::runtime_error(fmt::format("non-finite loss at step {}; the last saved training state ({}) is usable",
                                           s.step + 1, dir.state_dir().string()));
    }
    figures.sum_over_ranks(control.comm.get(), device);
    if (dump_now) {
      first_step["loss"] = at::scalar_tensor(result.loss, at::kDouble);
      first_step["mlm_loss"] = at::scalar_tensor(figures.mlm_loss, at::kDouble);
      first_step["rtd_loss"] = at::scalar_tensor(figures.rtd_loss, at::kDouble);
      write_safetensors(out / "first_step.safetensors", first_step);
      first_step.clear();
    }
    ++s.step;

    const double step_seconds = seconds_since(step_start);
    s.train_seconds += step_seconds;
    s.tokens += figures.tokens;
    window.figures += figures;
    window.loss += result.loss;
    window.grad_norm += result.grad_norm;
    window.data_wait += data_wait;
    window.seconds += step_seconds;
    ++window.steps;

    if (s.step % options.train.logging_every == 0 || s.step == stop) {
      const double n = static_cast<double>(window.steps);
      const ObjectiveSums& f = window.figures;
      auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
      last_loss = window.loss / n;
      const json line = {{"step", s.step},
                         {"epoch", s.epoch},
                         {"loss", last_loss},
                         {"mlm_loss", f.mlm_loss / n},
                         {"rtd_loss", f.rtd_loss / n},
                         {"generator_accuracy", ratio(f.generator_correct, f.masked)},
                         {"discriminator_accuracy", ratio(f.discriminator_correct, f.tokens)},
                         {"discriminator_precision", ratio(f.true_replaced, f.predicted_replaced)},
                         {"discriminator_recall", ratio(f.true_replaced, f.replaced)},
                         {"replaced_fraction", ratio(f.replaced, f.tokens)},
                         {"lr", lr},
                         {"grad_norm", window.grad_norm / n},
                         {"tokens_per_second", ratio(f.tokens, window.seconds)},
                         {"data_wait_seconds", window.data_wait},
                         {"seconds", window.seconds}};
      if (writer) {
        dir.append_metrics(line);
        log << fmt::format("step {}/{}: loss {:.4f} (mlm {:.4f}, rtd {:.4f}), gen acc {:.3f}, disc acc {:.3f} "
                           "P {:.3f} R {:.3f}, lr {:.3g}, {:.0f} tokens/s\n",
                           s.step, total, last_loss, f.mlm_loss / n, f.rtd_loss / n,
                           ratio(f.generator_correct, f.masked), ratio(f.discriminator_correct, f.tokens),
                           ratio(f.true_replaced, f.predicted_replaced), ratio(f.true_replaced, f.replaced), lr,
                           ratio(f.tokens, window.seconds));
        log.flush();
      }
      window = Window{};
    }
    if (s.step % options.train.save_every == 0 && s.step != stop) save();
    // Every rank acts on a stop signal any of them received, at the same step.
    const int local_signal = stop_signal();
    stopped_by = control.comm ? control.comm->agree_on_stop(local_signal) : local_signal;
    if (stopped_by != 0 && s.step < stop) break;
    stopped_by = 0;
  }
  if (saved_step != s.step) save();
  if (stopped_by != 0 && writer)
    log << fmt::format("stopped at step {} by {}; rerun the same command to resume\n", s.step, signal_name(stopped_by));

  PretrainOutcome outcome;
  outcome.output_dir = out;
  outcome.steps = s.step;
  outcome.finished = s.step >= total;
  outcome.stopped_by = stopped_by;
  outcome.last_loss = last_loss;
  const double run_seconds = s.train_seconds - seconds_at_start;
  outcome.tokens_per_second = run_seconds > 0 ? (s.tokens - tokens_at_start) / run_seconds : 0;
  return outcome;
}

}  // namespace electra
