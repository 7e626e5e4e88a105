#include "pretrain/pretrainer.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "common/files.h"
#include "corpus/pretraining_data.h"
#include "dist/communicator.h"
#include "dist/environment.h"
#include "model/runtime.h"
#include "pretrain/model.h"
#include "pretrain/objective.h"
#include "tokenizer/tokenizer.h"
#include "train/durable_files.h"
#include "train/optimizer.h"
#include "train/run_dir.h"
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

// Sums of a metrics window (also the per-step quantities summed over the ranks).
struct Window {
  double loss = 0, mlm = 0, rtd = 0, masked = 0, gen_correct = 0, tokens = 0, disc_correct = 0, predicted = 0,
         replaced = 0, true_replaced = 0, grad_norm = 0, data_wait = 0, seconds = 0;
  int64_t steps = 0;
};

void save_state(const fs::path& state_dir, const ElectraPretrainingModelImpl& model, const AdamW& optimizer,
                const LoopState& s) {
  const json meta = {{"kind", kStateKind},
                     {"step", s.step},
                     {"epoch", s.epoch},
                     {"examples_in_epoch", s.examples_in_epoch},
                     {"train_seconds", s.train_seconds},
                     {"tokens", s.tokens}};
  commit_state(state_dir, s.step, model.unique_named_parameters(), optimizer, meta);
}

LoopState load_state(const fs::path& state_dir, ElectraPretrainingModelImpl& model, AdamW& optimizer,
                     const c10::Device& device) {
  CommittedState state(state_dir);
  const json& meta = state.meta();
  if (meta.value("kind", "") != kStateKind)
    throw std::runtime_error(fmt::format("{}: not a pre-training state (a fine-tuning run's?)", state.file().string()));
  state.restore(model.unique_named_parameters(), optimizer, device);
  LoopState s;
  s.step = meta.at("step");
  s.epoch = meta.at("epoch");
  s.examples_in_epoch = meta.at("examples_in_epoch");
  s.train_seconds = meta.at("train_seconds");
  s.tokens = meta.at("tokens");
  return s;
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
  at::manual_seed(static_cast<uint64_t>(options.train.seed));
  ElectraPretrainingModel model(disc_config, gen_config);
  model->to(device);
  model->train();
  AdamW optimizer(model->unique_named_parameters(), options.optimizer);
  if (options.objective.disc_lr_scale != 1.0)
    for (const std::string& name : model->discriminator_only_parameter_names())
      optimizer.scale_lr(name, options.objective.disc_lr_scale);

  const fs::path out(options.output_dir);
  const fs::path state_dir = out / "state";
  LoopState s;
  if (control.resume) {
    s = load_state(state_dir, *model, optimizer, device);
    if (writer) {
      log << fmt::format("resumed {} at step {} (epoch {}, example {} of it)\n", out.string(), s.step, s.epoch,
                         s.examples_in_epoch);
      // The run repeats the steps after the state: their metrics lines (and a line cut short by a crash) go.
      RunDirectory(out).truncate_metrics(s.step);
    }
  } else if (writer && fs::exists(state_manifest(state_dir))) {
    throw std::invalid_argument(fmt::format("{} already holds a pre-training run; --resume {} continues it, or choose "
                                            "another --output-dir",
                                            out.string(), out.string()));
  }
  if (writer) {
    fs::create_directories(state_dir);
    check_writable(out);
    PretrainOptions saved = options;
    saved.warnings.clear();
    write_file_atomic(out / "config.yaml", to_yaml(saved));
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
  const int64_t stop = control.stop_after_steps > 0 ? std::min(total, control.stop_after_steps) : total;
  const uint64_t seed = static_cast<uint64_t>(options.train.seed);
  const auto seconds_at_start = s.train_seconds;
  const double tokens_at_start = s.tokens;
  const auto run_start = Clock::now();
  Window window;
  double last_loss = 0;
  int64_t saved_step = control.resume ? s.step : -1;

  auto save = [&] {
    if (writer) {
      save_state(state_dir, *model, optimizer, s);
      save_pretraining_pair(*model, out, vocab_dir);
    }
    if (control.comm) control.comm->barrier("checkpoint");
    saved_step = s.step;
  };

  // train.dump_first_step: what the first step of a fresh run computed.
  const bool dump_first = options.train.dump_first_step && writer && !control.resume;
  TensorMap first_step;
  if (dump_first) save_pretraining_pair(*model, out / "initial", vocab_dir);

  std::vector<PretrainingExample> batch;
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
    double sums[10] = {0};  // loss, mlm, rtd, masked, gen_correct, tokens, disc_correct, predicted, replaced, tp
    bool finite = true;
    for (size_t micro = 0; micro < micros.size(); ++micro) {
      Micro& m = micros[micro];
      at::manual_seed(draw_seed(seed, s.step, rank, static_cast<int64_t>(micro), 2));  // dropout
      MaskedInput masked{m.masked.input_ids.to(device), m.masked.positions.to(device)};
      ObjectiveResult r = electra_objective(*model, m.batch.input_ids.to(device), m.batch.attention_mask.to(device),
                                            m.batch.token_type_ids.to(device), masked,
                                            options.objective.disc_weight, m.sample_seeds, total_masked, total_tokens,
                                            SamplingOptions{options.objective.temperature,
                                                            options.objective.disallow_correct});
      const double loss = r.loss.item<double>();
      if (!std::isfinite(loss)) {
        finite = false;
        break;
      }
      r.loss.backward();
      if (dump_first && s.step == 0) {
        const std::string tag = std::to_string(micro);
        first_step["input_ids." + tag] = m.batch.input_ids;
        first_step["attention_mask." + tag] = m.batch.attention_mask;
        first_step["token_type_ids." + tag] = m.batch.token_type_ids;
        first_step["masked_input_ids." + tag] = m.masked.input_ids;
        first_step["positions." + tag] = m.masked.positions.to(at::kLong);
        first_step["discriminator_input." + tag] = r.discriminator_input.cpu();
      }
      sums[0] += loss;
      sums[1] += r.mlm_loss.item<double>();
      sums[2] += r.rtd_loss.item<double>();
      sums[3] += r.masked;
      sums[4] += r.generator_correct;
      sums[5] += r.tokens;
      sums[6] += r.discriminator_correct;
      sums[7] += r.predicted_replaced;
      sums[8] += r.replaced;
      sums[9] += r.true_replaced;
    }
    // Every rank learns whether any rank failed, and the sums of the counts.
    at::Tensor shared = at::empty({11}, at::kDouble);
    for (int i = 0; i < 10; ++i) shared[i] = sums[i];
    shared[10] = finite ? 0.0 : 1.0;
    if (control.comm && control.comm->distributed()) {
      shared = shared.to(device);
      control.comm->all_reduce_sum({shared}, "step statistics");
      shared = shared.cpu();
    }
    const auto* total_sums = shared.data_ptr<double>();
    if (total_sums[10] > 0) {
      throw std::runtime_error(fmt::format("non-finite loss at step {}; the last saved training state ({}) is usable",
                                           s.step + 1, state_dir.string()));
    }
    std::vector<at::Tensor> grads;
    for (const auto& slot : optimizer.slots()) {
      if (!slot.param.grad().defined()) slot.param.mutable_grad() = at::zeros_like(slot.param);
      grads.push_back(slot.param.grad());
    }
    if (control.comm && control.comm->distributed()) {
      control.comm->all_reduce_sum(grads, "gradients");  // the shares' gradients add up to the batch's
    }
    if (dump_first && s.step == 0) {
      for (const auto& slot : optimizer.slots()) first_step["grad." + slot.name] = slot.param.grad().detach().cpu().clone();
      first_step["loss"] = at::scalar_tensor(total_sums[0], at::kDouble);
      first_step["mlm_loss"] = at::scalar_tensor(total_sums[1], at::kDouble);
      first_step["rtd_loss"] = at::scalar_tensor(total_sums[2], at::kDouble);
      write_safetensors(out / "first_step.safetensors", first_step);
      first_step.clear();
    }
    const double grad_norm = clip_grad_norm(optimizer.slots(), options.optimizer.max_grad_norm);
    const double lr = options.optimizer.learning_rate * schedule_factor(options.schedule.name, s.step, warmup, total);
    optimizer.step(lr);
    optimizer.zero_grad();
    ++s.step;

    const double step_seconds = seconds_since(step_start);
    s.train_seconds += step_seconds;
    s.tokens += total_sums[5];
    window.loss += total_sums[0];
    window.mlm += total_sums[1];
    window.rtd += total_sums[2];
    window.masked += total_sums[3];
    window.gen_correct += total_sums[4];
    window.tokens += total_sums[5];
    window.disc_correct += total_sums[6];
    window.predicted += total_sums[7];
    window.replaced += total_sums[8];
    window.true_replaced += total_sums[9];
    window.grad_norm += grad_norm;
    window.data_wait += data_wait;
    window.seconds += step_seconds;
    ++window.steps;

    if (s.step % options.train.logging_every == 0 || s.step == stop) {
      const double n = static_cast<double>(window.steps);
      auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
      last_loss = window.loss / n;
      const json line = {{"step", s.step},
                         {"epoch", s.epoch},
                         {"loss", last_loss},
                         {"mlm_loss", window.mlm / n},
                         {"rtd_loss", window.rtd / n},
                         {"generator_accuracy", ratio(window.gen_correct, window.masked)},
                         {"discriminator_accuracy", ratio(window.disc_correct, window.tokens)},
                         {"discriminator_precision", ratio(window.true_replaced, window.predicted)},
                         {"discriminator_recall", ratio(window.true_replaced, window.replaced)},
                         {"replaced_fraction", ratio(window.replaced, window.tokens)},
                         {"lr", lr},
                         {"grad_norm", window.grad_norm / n},
                         {"tokens_per_second", ratio(window.tokens, window.seconds)},
                         {"data_wait_seconds", window.data_wait},
                         {"seconds", window.seconds}};
      if (writer) {
        std::ofstream metrics(out / "metrics.jsonl", std::ios::app);
        metrics << line.dump() << "\n";
        if (!metrics) throw std::runtime_error(fmt::format("cannot write {}", (out / "metrics.jsonl").string()));
        log << fmt::format("step {}/{}: loss {:.4f} (mlm {:.4f}, rtd {:.4f}), gen acc {:.3f}, disc acc {:.3f} "
                           "P {:.3f} R {:.3f}, lr {:.3g}, {:.0f} tokens/s\n",
                           s.step, total, last_loss, window.mlm / n, window.rtd / n,
                           ratio(window.gen_correct, window.masked), ratio(window.disc_correct, window.tokens),
                           ratio(window.true_replaced, window.predicted), ratio(window.true_replaced, window.replaced),
                           lr, ratio(window.tokens, window.seconds));
        log.flush();
      }
      window = Window{};
    }
    if (s.step % options.train.save_every == 0 && s.step != stop) save();
  }
  if (saved_step != s.step) save();

  PretrainOutcome outcome;
  outcome.output_dir = out;
  outcome.steps = s.step;
  outcome.finished = s.step >= total;
  outcome.last_loss = last_loss;
  const double run_seconds = s.train_seconds - seconds_at_start;
  outcome.tokens_per_second = run_seconds > 0 ? (s.tokens - tokens_at_start) / run_seconds : 0;
  (void)run_start;
  return outcome;
}

}  // namespace electra
