#include "pretrain/objective.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorIndexing.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <stdexcept>

#include "heads/pretraining.h"

namespace electra {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t draw_seed(uint64_t seed, int64_t step, int64_t rank, int64_t micro_batch, int64_t site) {
  uint64_t h = splitmix64(seed);
  for (const int64_t part : {step, rank, micro_batch, site}) h = splitmix64(h ^ static_cast<uint64_t>(part));
  return h;
}

at::Generator cpu_generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

at::Generator device_generator(const c10::Device& device, uint64_t seed) {
  if (device.is_cpu()) return cpu_generator(seed);
  at::Generator g = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_current_seed(seed);
  return g;
}

PretrainBatch collate(const std::vector<PretrainingExample>& examples, int64_t pad_id) {
  size_t longest = 0;
  for (const auto& e : examples) longest = std::max(longest, e.input_ids.size());
  const auto b = static_cast<int64_t>(examples.size()), t = static_cast<int64_t>(longest);
  PretrainBatch out;
  out.input_ids = at::full({b, t}, pad_id, at::kLong);
  out.attention_mask = at::zeros({b, t}, at::kLong);
  out.token_type_ids = at::zeros({b, t}, at::kLong);
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto mask = out.attention_mask.accessor<int64_t, 2>();
  auto types = out.token_type_ids.accessor<int64_t, 2>();
  for (int64_t i = 0; i < b; ++i) {
    const auto& e = examples[static_cast<size_t>(i)];
    for (size_t j = 0; j < e.input_ids.size(); ++j) {
      ids[i][static_cast<int64_t>(j)] = e.input_ids[j];
      mask[i][static_cast<int64_t>(j)] = 1;
      types[i][static_cast<int64_t>(j)] = static_cast<int64_t>(j) >= e.first_segment_length ? 1 : 0;
    }
  }
  return out;
}

MaskedInput mask_tokens(const at::Tensor& input_ids, const at::Tensor& attention_mask, const MaskingOptions& options,
                        at::Generator& generator) {
  at::NoGradGuard no_grad;
  const at::Tensor ids = input_ids.to(at::kLong);
  at::Tensor candidates = attention_mask.to(at::kBool);
  for (const int64_t special : options.special_ids) candidates = candidates & ids.ne(special);
  // google's count: the non-padding tokens, [CLS] and [SEP] included (round half to even, as tf.round).
  const at::Tensor n = attention_mask.sum(1).to(at::kDouble);  // [B]
  at::Tensor k = at::round(n * options.mask_prob).clamp(1, static_cast<double>(options.max_predictions));
  k = at::minimum(k, candidates.sum(1).to(at::kDouble)).to(at::kLong);  // never more than the candidates
  // A uniform random order of each row's candidates: sort random keys (non-candidates last), take the first k.
  const at::Tensor keys = at::rand(ids.sizes(), generator, at::TensorOptions().dtype(at::kDouble))
                              .masked_fill(candidates.logical_not(), 2.0);
  const at::Tensor order = keys.argsort(/*stable=*/true, 1, false);
  const at::Tensor rank = order.argsort(/*stable=*/true, 1, false);
  const at::Tensor chosen = rank.lt(k.unsqueeze(1)) & candidates;
  const at::Tensor to_mask =
      chosen & at::rand(ids.sizes(), generator, at::TensorOptions().dtype(at::kDouble)).lt(options.mask_token_prob);
  MaskedInput out;
  out.input_ids = ids.masked_fill(to_mask, options.mask_id);
  out.positions = chosen;
  return out;
}

MaskedInput mask_examples(const at::Tensor& input_ids, const at::Tensor& attention_mask, const MaskingOptions& options,
                          const std::vector<uint64_t>& row_seeds) {
  at::NoGradGuard no_grad;
  const int64_t b = input_ids.size(0);
  if (static_cast<int64_t>(row_seeds.size()) != b)
    throw std::invalid_argument("mask_examples: one seed per example is needed");
  MaskedInput out;
  out.input_ids = input_ids.to(at::kLong).clone();
  out.positions = at::zeros(input_ids.sizes(), at::kBool);
  const at::Tensor lengths = attention_mask.sum(1).cpu();
  for (int64_t i = 0; i < b; ++i) {
    const int64_t n = lengths[i].item<int64_t>();
    if (n == 0) continue;
    at::Generator g = cpu_generator(row_seeds[static_cast<size_t>(i)]);
    const MaskedInput row = mask_tokens(input_ids[i].narrow(0, 0, n).unsqueeze(0),
                                        attention_mask[i].narrow(0, 0, n).unsqueeze(0), options, g);
    out.input_ids[i].narrow(0, 0, n).copy_(row.input_ids[0]);
    out.positions[i].narrow(0, 0, n).copy_(row.positions[0]);
  }
  return out;
}

at::Tensor sample_replacements(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& counts,
                               const std::vector<uint64_t>& sample_seeds, const SamplingOptions& sampling) {
  at::NoGradGuard no_grad;
  if (logits.size(0) == 0) return targets;
  at::Tensor scores = logits.detach().to(at::kFloat);
  if (sampling.temperature != 1.0) scores = scores / sampling.temperature;
  if (sampling.disallow_correct)
    scores = scores.scatter(1, targets.unsqueeze(1), -std::numeric_limits<float>::infinity());
  const at::Tensor probs = at::softmax(scores, -1);
  // One categorical draw per row by inverting its cumulative distribution: one uniform per row, each example's from
  // its own generator. LibTorch's multinomial draws an exponential variate for every vocabulary entry instead (a
  // log and a random number per entry, serial on the CPU: a third of a tiny pre-training step). A token of
  // probability 0 (disallow_correct) adds nothing to the distribution, so `right` search never lands on it.
  std::vector<at::Tensor> uniforms;
  for (int64_t i = 0; i < counts.size(0); ++i) {
    const int64_t c = counts[i].item<int64_t>();
    if (c == 0) continue;
    at::Generator g = device_generator(probs.device(), sample_seeds.at(static_cast<size_t>(i)));
    uniforms.push_back(at::rand({c, 1}, g, probs.options()));
  }
  const int64_t V = probs.size(1);
  const at::Tensor cdf = probs.cumsum(-1);
  const at::Tensor points = at::cat(uniforms) * cdf.narrow(1, V - 1, 1);
  return at::searchsorted(cdf, points, /*out_int32=*/false, /*right=*/true).squeeze(1).clamp_max(V - 1);
}

ObjectiveResult electra_objective(ElectraPretrainingModelImpl& model, const at::Tensor& input_ids,
                                  const at::Tensor& attention_mask, const at::Tensor& token_type_ids,
                                  const MaskedInput& masked, double disc_weight,
                                  const std::vector<uint64_t>& sample_seeds, double mlm_denominator,
                                  double rtd_denominator, const SamplingOptions& sampling) {
  ObjectiveResult r;
  const at::Tensor targets = input_ids.index({masked.positions});  // [M]
  const at::Tensor logits = model.generator(masked.input_ids, attention_mask, token_type_ids, masked.positions);
  const int64_t m = targets.size(0);
  r.mlm_loss = masked_lm_loss(logits, targets, mlm_denominator);

  {
    at::NoGradGuard no_grad;
    const at::Tensor sampled =
        sample_replacements(logits, targets, masked.positions.sum(1).cpu(), sample_seeds, sampling);
    r.discriminator_input = input_ids.clone();
    r.discriminator_input.index_put_({masked.positions}, sampled);
    r.labels = r.discriminator_input.ne(input_ids).to(at::kFloat);
  }
  const at::Tensor disc_logits = model.discriminator(r.discriminator_input, attention_mask, token_type_ids);  // [B, T]
  r.rtd_loss = replaced_token_loss(disc_logits, r.labels, attention_mask, rtd_denominator);
  r.loss = r.mlm_loss + disc_weight * r.rtd_loss;

  at::NoGradGuard no_grad;
  const at::Tensor valid = attention_mask.to(at::kBool);
  const at::Tensor predicted = disc_logits.detach().gt(0) & valid;
  const at::Tensor actual = r.labels.to(at::kBool) & valid;
  const at::Tensor counts = at::stack({
                                at::scalar_tensor(static_cast<double>(m), at::kDouble).to(logits.device()),
                                m > 0 ? logits.detach().argmax(-1).eq(targets).sum().to(at::kDouble)
                                      : at::zeros({}, logits.options().dtype(at::kDouble)),
                                valid.sum().to(at::kDouble),
                                (predicted.eq(actual) & valid).sum().to(at::kDouble),
                                predicted.sum().to(at::kDouble),
                                actual.sum().to(at::kDouble),
                                (predicted & actual).sum().to(at::kDouble),
                            })
                                .cpu();
  const double* c = counts.data_ptr<double>();
  r.masked = c[0];
  r.generator_correct = c[1];
  r.tokens = c[2];
  r.discriminator_correct = c[3];
  r.predicted_replaced = c[4];
  r.replaced = c[5];
  r.true_replaced = c[6];
  return r;
}

}  // namespace electra
