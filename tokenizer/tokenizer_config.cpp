// tokenizer_config.json and the names of the truncation and padding strategies.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/files.h"
#include "tokenizer/tokenizer.h"

namespace electra {
namespace {

std::string token_option(const nlohmann::json& config, const std::string& key, const std::string& fallback,
                         const std::filesystem::path& file) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const auto& value = config[key];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();  // an AddedToken as transformers serialises it
  }
  throw std::runtime_error(fmt::format("{}: key '{}' must be a string or an object with \"content\", got {}",
                                       file.string(), key, value.dump()));
}

}  // namespace

TokenizerOptions read_tokenizer_config(const std::filesystem::path& file) {
  return read_tokenizer_config(file, TokenizerOptions());
}

TokenizerOptions read_tokenizer_config(const std::filesystem::path& file, const TokenizerOptions& defaults) {
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("{}: invalid JSON: {}", file.string(), e.what()));
  }
  if (!config.is_object()) throw std::runtime_error(fmt::format("{}: expected a JSON object", file.string()));
  TokenizerOptions options = defaults;
  auto boolean = [&](const char* key) -> std::optional<bool> {
    if (!config.contains(key) || config[key].is_null()) return std::nullopt;
    if (!config[key].is_boolean()) {
      throw std::runtime_error(
          fmt::format("{}: key '{}' must be true or false, got {}", file.string(), key, config[key].dump()));
    }
    return config[key].get<bool>();
  };
  options.do_lower_case = boolean("do_lower_case").value_or(defaults.do_lower_case);
  if (const auto strip = boolean("strip_accents")) options.strip_accents = strip;
  options.tokenize_chinese_chars = boolean("tokenize_chinese_chars").value_or(defaults.tokenize_chinese_chars);
  if (config.contains("model_max_length") && !config["model_max_length"].is_null()) {
    const auto& value = config["model_max_length"];
    if (!value.is_number() || value.get<double>() < 1) {
      throw std::runtime_error(fmt::format("{}: key 'model_max_length' must be a positive number, got {}",
                                           file.string(), value.dump()));
    }
    // transformers writes 1e30 (VERY_LARGE_INTEGER) when a model has no limit.
    options.model_max_length = value.get<double>() >= 1e15 ? 0 : value.get<int64_t>();
  }
  options.unk_token = token_option(config, "unk_token", options.unk_token, file);
  options.cls_token = token_option(config, "cls_token", options.cls_token, file);
  options.sep_token = token_option(config, "sep_token", options.sep_token, file);
  options.pad_token = token_option(config, "pad_token", options.pad_token, file);
  options.mask_token = token_option(config, "mask_token", options.mask_token, file);
  return options;
}

Truncation parse_truncation(std::string_view name) {
  if (name == "longest_first") return Truncation::longest_first;
  if (name == "only_first") return Truncation::only_first;
  if (name == "only_second") return Truncation::only_second;
  if (name == "none") return Truncation::none;
  throw std::invalid_argument(
      fmt::format("unknown truncation '{}' (known: longest_first, only_first, only_second, none)", name));
}

Padding parse_padding(std::string_view name) {
  if (name == "none") return Padding::none;
  if (name == "max_length") return Padding::max_length;
  if (name == "longest") return Padding::longest;
  throw std::invalid_argument(fmt::format("unknown padding '{}' (known: max_length, longest, none)", name));
}

}  // namespace electra
