// electra predict: runs a checkpoint on JSON lines (pre-tokenised ids, or text tokenised with the model
// directory's vocab.txt) and writes one JSON line per input line, in order. A malformed line gets
// {"error": "line N: ..."} in its place; the others are still predicted. Pre-training checkpoints run their own
// heads: ElectraForPreTraining says which tokens look replaced; the masked LMs (ElectraForMaskedLM, BertForMaskedLM,
// BertForPreTraining) give each position's top k, BertForPreTraining also its next-sentence logits.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/core.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "architectures/predictor.h"
#include "cli/commands.h"
#include "common/crash_point.h"
#include "common/files.h"
#include "common/stop_signal.h"
#include "tokenizer/text_lines.h"
#include "tokenizer/tokenizer.h"

namespace electra::cli {
namespace {

// Output JSON: keys in the documented order, floats printed as the shortest text that reads back the same float.
using OutJson = nlohmann::basic_json<nlohmann::ordered_map, std::vector, std::string, bool, std::int64_t,
                                     std::uint64_t, float>;

struct PredictOptions {
  std::filesystem::path model_dir;
  std::string input;   // file, or "-" for standard input
  std::string output;  // file; empty: standard output
  int64_t batch_size = 32;
  std::string device = "cpu";
  int64_t max_length = 0;  // text input: tokens per line after truncation; 0: min(max positions, 512)
  int64_t top_k = 0;       // masked LM: entries per position; 0: not given (5)
};

// The model directory's tokenizer, read when the first text line arrives (a run on ids needs no vocab.txt).
class LazyTokenizer {
 public:
  explicit LazyTokenizer(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // The tokenizer, or nullptr when the model directory has none that loads.
  const Tokenizer* find() {
    try {
      return &get();
    } catch (const std::invalid_argument&) {
      return nullptr;
    }
  }
  const Tokenizer& get() {
    if (!tokenizer_ && error_.empty()) {
      try {
        tokenizer_ = Tokenizer::from_dir(dir_);
      } catch (const std::exception& e) {
        error_ = fmt::format("text input needs the model's tokenizer: {}", e.what());
      }
    }
    if (!tokenizer_) throw std::invalid_argument(error_);
    return *tokenizer_;
  }

 private:
  std::filesystem::path dir_;
  std::optional<Tokenizer> tokenizer_;
  std::string error_;
};

using Item = PredictInput;

// One input line: its parsed item, or why it cannot be predicted ("line N: ..."); then its output.
struct Entry {
  std::optional<Item> item;
  std::string error;
  OutJson result;
};

std::vector<int64_t> read_int_list(const nlohmann::json& value, const char* key) {
  if (!value.is_array()) throw std::invalid_argument(fmt::format("'{}' must be a list of integers", key));
  std::vector<int64_t> out;
  out.reserve(value.size());
  for (const auto& v : value) {
    if (!v.is_number_integer())
      throw std::invalid_argument(fmt::format("'{}' holds {}, not an integer", key, v.dump()));
    out.push_back(v.get<int64_t>());
  }
  return out;
}

// {"text": ..., "text_pair": ... (optional, may be null)} -> [CLS] A [SEP] (B [SEP]), longest_first truncation.
Item encode_text(const nlohmann::json& j, LazyTokenizer& tokenizer, int64_t max_length, const ElectraConfig& config) {
  const TextInput input = read_text_input(j);
  EncodeOptions options;
  options.max_length = max_length;
  options.truncation = Truncation::longest_first;
  const Encoding encoding = tokenizer.get().encode(input.text, input.pair(), options);  // throws on invalid UTF-8
  const bool pair = input.text_pair.has_value();
  // Below the special tokens' count, tokenizers (and so Tokenizer) truncates nothing: the model never gets that.
  if (static_cast<int64_t>(encoding.input_ids.size()) > max_length)
    throw std::invalid_argument(fmt::format("--max-length {} is below the {} special tokens of a{}", max_length,
                                            pair ? 3 : 2, pair ? " text pair" : " text"));
  for (int64_t id : encoding.input_ids)
    if (id >= config.vocab_size)
      throw std::invalid_argument(fmt::format("token '{}' has id {}, outside the model's vocabulary of {} (vocab.txt "
                                              "and config.json disagree)",
                                              tokenizer.get().id_to_token(id), id, config.vocab_size));
  return {encoding.input_ids, encoding.attention_mask, encoding.token_type_ids, {}};
}

// Parses and checks one line against the model's limits; throws std::invalid_argument or std::runtime_error (a
// malformed line) with the reason.
Item parse_item(const std::string& text, const ElectraConfig& config, LazyTokenizer& tokenizer, int64_t max_length) {
  nlohmann::json j = parse_json_line(text);
  if (j.contains("text")) return encode_text(j, tokenizer, max_length, config);
  for (const auto& [key, value] : j.items())
    if (key != "input_ids" && key != "attention_mask" && key != "token_type_ids" && key != "labels")
      throw std::invalid_argument(fmt::format(
          "unknown key '{}' (expected input_ids, attention_mask, token_type_ids, labels; or text, text_pair)", key));
  if (!j.contains("input_ids")) throw std::invalid_argument("missing 'input_ids' (or 'text')");
  Item item;
  item.input_ids = read_int_list(j["input_ids"], "input_ids");
  const auto n = static_cast<int64_t>(item.input_ids.size());
  if (n == 0) throw std::invalid_argument("'input_ids' is empty");
  if (n > config.max_position_embeddings)
    throw std::invalid_argument(
        fmt::format("{} tokens, more than the model's max_position_embeddings {}", n, config.max_position_embeddings));
  for (int64_t id : item.input_ids)
    if (id < 0 || id >= config.vocab_size)
      throw std::invalid_argument(fmt::format("input_ids: {} is outside the vocabulary (0..{})", id, config.vocab_size - 1));
  item.attention_mask.assign(n, 1);
  item.token_type_ids.assign(n, 0);
  if (j.contains("attention_mask")) {
    item.attention_mask = read_int_list(j["attention_mask"], "attention_mask");
    if (static_cast<int64_t>(item.attention_mask.size()) != n)
      throw std::invalid_argument(
          fmt::format("attention_mask has {} entries, input_ids {}", item.attention_mask.size(), n));
    for (int64_t m : item.attention_mask)
      if (m != 0 && m != 1) throw std::invalid_argument(fmt::format("attention_mask: {} is not 0 or 1", m));
  }
  if (j.contains("token_type_ids")) {
    item.token_type_ids = read_int_list(j["token_type_ids"], "token_type_ids");
    if (static_cast<int64_t>(item.token_type_ids.size()) != n)
      throw std::invalid_argument(
          fmt::format("token_type_ids has {} entries, input_ids {}", item.token_type_ids.size(), n));
    for (int64_t t : item.token_type_ids)
      if (t < 0 || t >= config.type_vocab_size)
        throw std::invalid_argument(
            fmt::format("token_type_ids: {} is outside 0..{}", t, config.type_vocab_size - 1));
  }
  if (j.contains("labels")) {
    item.labels = read_int_list(j["labels"], "labels");
    if (item.labels.empty())  // an empty list is not "no labels"
      throw std::invalid_argument(fmt::format("labels has 0 entries, input_ids {}", n));
    if (std::string error = labels_error(config, item); !error.empty()) throw std::invalid_argument(error);
  }
  return item;
}

// [rows * columns] row-major -> [[...], ...]
template <typename T>
OutJson matrix(const std::vector<T>& flat, int64_t columns) {
  OutJson out = OutJson::array();
  for (size_t at = 0; at + columns <= flat.size(); at += columns) {
    out.push_back(std::vector<T>(flat.begin() + at, flat.begin() + at + columns));
  }
  return out;
}

// A masked LM's outputs: the top k vocabulary ids per position (and their tokens when `tokenizer` is given), their
// probabilities and logits, and the loss when labels were given.
void masked_lm_result(OutJson& r, const PredictOutput& o, const Tokenizer* tokenizer, int64_t top_k) {
  r["top_ids"] = matrix(o.top_ids, top_k);
  if (tokenizer) {
    OutJson tokens = OutJson::array();
    for (size_t at = 0; at < o.top_ids.size(); at += top_k) {
      OutJson row = OutJson::array();
      for (int64_t j = 0; j < top_k; ++j) {  // null: an id past the end of vocab.txt (padded embeddings)
        const int64_t id = o.top_ids[at + j];
        row.push_back(id < tokenizer->vocab_size() ? OutJson(tokenizer->id_to_token(id)) : OutJson(nullptr));
      }
      tokens.push_back(row);
    }
    r["top_tokens"] = tokens;
  }
  r["top_probabilities"] = matrix(o.top_probabilities, top_k);
  r["top_logits"] = matrix(o.top_logits, top_k);
  if (o.loss) r["loss"] = static_cast<float>(*o.loss);
}

// Runs the items of `batch` and fills their results; `tokenizer` (may be null) names the masked LM's top ids.
void run_batch(const Predictor& predictor, std::vector<Entry*>& batch, const Tokenizer* tokenizer, int64_t top_k) {
  const ElectraConfig& config = predictor.config();
  std::vector<const PredictInput*> inputs;
  for (const Entry* e : batch) inputs.push_back(&*e->item);
  const std::vector<PredictOutput> outputs = predictor.run(inputs);
  for (size_t b = 0; b < batch.size(); ++b) {
    const PredictOutput& o = outputs[b];
    OutJson r = OutJson::object();
    switch (config.architecture) {
      case Architecture::sequence_classification:
        if (config.is_regression()) {
          r["score"] = o.logits[0];
          r["logits"] = o.logits;
        } else {
          r["label"] = config.id2label[o.best[0]];
          r["score"] = o.probabilities[o.best[0]];
          r["logits"] = o.logits;
        }
        break;
      case Architecture::token_classification: {
        OutJson labels = OutJson::array();
        for (const int64_t best : o.best) labels.push_back(config.id2label[best]);
        r["labels"] = labels;
        r["logits"] = matrix(o.logits, config.num_labels());
        break;
      }
      case Architecture::question_answering:
        r["start_logits"] = o.start_logits;
        r["end_logits"] = o.end_logits;
        break;
      case Architecture::pretraining: {
        if (!o.next_sentence_logits.empty()) {  // BertForPreTraining
          masked_lm_result(r, o, tokenizer, top_k);
          r["next_sentence_logits"] = o.next_sentence_logits;
          break;
        }
        OutJson replaced = OutJson::array();
        for (const float logit : o.logits) replaced.push_back(logit > 0.0F);
        r["replaced"] = replaced;
        r["probabilities"] = o.probabilities;
        r["logits"] = o.logits;
        if (o.loss) r["loss"] = static_cast<float>(*o.loss);
        break;
      }
      case Architecture::masked_lm:
        masked_lm_result(r, o, tokenizer, top_k);
        break;
      default:
        r["last_hidden_state"] = matrix(o.hidden, config.hidden_size);
        break;
    }
    batch[b]->result = std::move(r);
  }
}

// --output FILE: written beside it (FILE.tmp.<pid>) and renamed over it once complete, so that an error or a stop
// signal leaves FILE as it was. A FILE that is not a regular file (/dev/stdout, a pipe) is written in place.
class OutputFile {
 public:
  explicit OutputFile(const std::filesystem::path& file) : file_(file) {
    std::error_code ec;
    const bool in_place = std::filesystem::exists(file, ec) && !std::filesystem::is_regular_file(file, ec);
    if (!in_place) temp_ = fmt::format("{}.tmp.{}", file.string(), ::getpid());
    stream_.open(in_place ? file_ : std::filesystem::path(temp_), std::ios::binary | std::ios::trunc);
    if (!stream_) throw std::runtime_error(fmt::format("cannot write {}", file.string()));
  }
  ~OutputFile() {
    if (temp_.empty()) return;
    stream_.close();
    ::unlink(temp_.c_str());
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  std::ostream& stream() { return stream_; }
  void commit() {
    stream_.close();
    if (!stream_) throw std::runtime_error(fmt::format("cannot write {}", file_.string()));
    if (temp_.empty()) return;
    sync_file(temp_);
    if (::rename(temp_.c_str(), file_.c_str()) != 0)
      throw std::runtime_error(fmt::format("cannot write {}: {}", file_.string(), std::strerror(errno)));
    temp_.clear();
    sync_directory(file_.parent_path());
  }

 private:
  std::filesystem::path file_;
  std::string temp_;  // empty: written in place, or renamed into place
  std::ofstream stream_;
};

void run_predict(const PredictOptions& options) {
  if (options.batch_size < 1)
    throw std::invalid_argument(fmt::format("--batch-size: must be at least 1, got {}", options.batch_size));
  Predictor::check_device(options.device);
  install_stop_handlers();  // a signal stops before the next batch; --output FILE is left as it was
  JsonLinesReader in(options.input);
  std::optional<OutputFile> out_file;
  std::ostream* out = &std::cout;
  if (!options.output.empty()) {
    out_file.emplace(options.output);
    out = &out_file->stream();
  }

  PredictorOptions predictor_options;
  predictor_options.device = options.device;
  if (options.top_k > 0) predictor_options.top_k = options.top_k;
  const Predictor predictor(options.model_dir, predictor_options);
  const ElectraConfig& model_config = predictor.config();
  const bool masked_lm = model_config.architecture == Architecture::masked_lm ||
                         (model_config.architecture == Architecture::pretraining &&
                          model_config.family().pretraining_head == PretrainingHeadKind::masked_lm_next_sentence);
  if (options.top_k > 0 && !masked_lm)
    throw std::invalid_argument(fmt::format(
        "--top-k applies to masked LM checkpoints (ElectraForMaskedLM, BertForMaskedLM, BertForPreTraining); {} is {}",
        options.model_dir.string(), model_config.hf_class()));
  const int64_t positions = predictor.config().max_position_embeddings;
  if (options.max_length < 0 || options.max_length > positions)
    throw std::invalid_argument(fmt::format("--max-length: {} is outside 1..{} (the model's max_position_embeddings)",
                                            options.max_length, positions));
  const int64_t max_length = options.max_length > 0 ? options.max_length : std::min<int64_t>(positions, 512);
  LazyTokenizer tokenizer(options.model_dir);
  // The masked LM's top ids are also given as tokens when the model directory has its vocabulary.
  const Tokenizer* names = masked_lm ? tokenizer.find() : nullptr;

  // Lines are read in windows of kBatchesPerWindow batches; within a window the inputs run longest first, so that
  // each batch pads little (file order pads every batch to its one long line); outputs keep the input's order.
  constexpr int64_t kBatchesPerWindow = 32;
  const int64_t window = options.batch_size * kBatchesPerWindow;
  std::vector<Entry> pending;
  auto flush = [&] {
    std::vector<Entry*> valid;
    for (auto& e : pending)
      if (e.item) valid.push_back(&e);
    std::stable_sort(valid.begin(), valid.end(), [](const Entry* a, const Entry* b) {
      return a->item->input_ids.size() > b->item->input_ids.size();
    });
    for (size_t at = 0; at < valid.size(); at += static_cast<size_t>(options.batch_size)) {
      std::vector<Entry*> batch(valid.begin() + static_cast<std::ptrdiff_t>(at),
                                valid.begin() + static_cast<std::ptrdiff_t>(
                                                    std::min(valid.size(), at + static_cast<size_t>(options.batch_size))));
      crash_point("predict.batch");
      if (const int signal = stop_signal()) {
        throw StoppedBySignal(
            signal, fmt::format("stopped by {} while predicting; {}; rerun the same command", signal_name(signal),
                                options.output.empty() ? "the output so far ends with a whole line"
                                                       : options.output + " is as it was"));
      }
      run_batch(predictor, batch, names, predictor_options.top_k);
    }
    for (auto& e : pending) {
      if (!e.item) e.result = OutJson{{"error", e.error}};
      *out << e.result.dump() << '\n';
    }
    out->flush();
    if (!*out) throw std::runtime_error(fmt::format("cannot write {}", options.output.empty() ? "stdout" : options.output));
    pending.clear();
  };

  int64_t in_batch = 0;
  for (std::string text; in.next(text);) {
    Entry entry;
    try {
      entry.item = parse_item(text, predictor.config(), tokenizer, max_length);
      ++in_batch;
    } catch (const std::invalid_argument& e) {
      entry.error = in.fail(e.what());
    } catch (const std::runtime_error& e) {
      entry.error = in.fail(e.what());
    }
    pending.push_back(std::move(entry));
    if (in_batch == window) {
      flush();
      in_batch = 0;
    }
  }
  flush();
  if (out_file) out_file->commit();
  in.finish("predicted");
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  auto* cmd = app.add_subcommand("predict", "Run a checkpoint on JSON lines of token ids or text, one JSON line out per line in");
  cmd->add_option("--model", options->model_dir, "Checkpoint directory (config.json + weights)")->required();
  cmd->add_option("--input", options->input,
                  "JSON lines: {\"input_ids\": [...], \"attention_mask\": [...], \"token_type_ids\": [...], "
                  "\"labels\": [...]} (all but input_ids optional; labels, for a pre-training checkpoint, add its "
                  "loss) or {\"text\": \"...\", \"text_pair\": \"...\"} (pair optional, tokenised with the model "
                  "directory's vocab.txt); - reads standard input")
      ->required();
  cmd->add_option("--output", options->output, "Output file (default: standard output)");
  cmd->add_option("--batch-size", options->batch_size,
                  "Inputs per batch, padded to the longest; within each window of 32 batches the longest run first")
      ->capture_default_str()
      ->check(within(int64_t{1}, limits::kBatchSize));
  cmd->add_option("--device", options->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--max-length", options->max_length,
                  "Text input: truncate [CLS] A [SEP] (B [SEP]) to N tokens, longest first (default: the model's "
                  "max_position_embeddings, 512 at most)")
      ->check(within(int64_t{1}, limits::kSequenceLength));
  cmd->add_option("--top-k", options->top_k,
                  "Masked LM checkpoints (ElectraForMaskedLM, BertForMaskedLM, BertForPreTraining): vocabulary entries "
                  "reported per position (default 5)")
      ->check(within(int64_t{1}, limits::kVocabSize));
  cmd->callback([options] { run_predict(*options); });
}

}  // namespace electra::cli
