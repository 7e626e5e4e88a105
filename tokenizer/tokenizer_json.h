// Reading a `tokenizers` tokenizer.json: field access that throws std::runtime_error naming the file and the
// field (shared by the WordPiece and the pipeline readers).
#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace electra::tokenizer_detail {

class TokenizerJson {
 public:
  explicit TokenizerJson(std::filesystem::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw std::runtime_error(fmt::format("{}: {}: {}", file_.string(), field, what));
  }

  const nlohmann::json& member(const nlohmann::json& object, const std::string& field, const char* key) const {
    if (!object.is_object() || !object.contains(key)) fail(field, fmt::format("missing key '{}'", key));
    return object[key];
  }
  std::string string_at(const nlohmann::json& object, const std::string& field, const char* key) const {
    const nlohmann::json& value = member(object, field, key);
    if (!value.is_string()) fail(field + "." + key, fmt::format("expected a string, got {}", value.dump()));
    return value.get<std::string>();
  }
  // A boolean key; `fallback` when the key is absent (tokenizers' serde default).
  bool boolean_at(const nlohmann::json& object, const std::string& field, const char* key, bool fallback) const {
    if (!object.contains(key)) return fallback;
    const nlohmann::json& value = object[key];
    if (!value.is_boolean()) fail(field + "." + key, fmt::format("expected true or false, got {}", value.dump()));
    return value.get<bool>();
  }
  std::string type_of(const nlohmann::json& object, const std::string& field) const {
    if (!object.is_object()) fail(field, fmt::format("expected an object, got {}", object.dump()));
    return string_at(object, field, "type");
  }

  // Items of a "Sequence" wrapper, or the object itself.
  std::vector<std::pair<std::string, const nlohmann::json*>> flatten(const nlohmann::json& object, const std::string& field,
                                                            const char* items_key) const {
    std::vector<std::pair<std::string, const nlohmann::json*>> out;
    if (type_of(object, field) != "Sequence") {
      out.emplace_back(field, &object);
      return out;
    }
    const nlohmann::json& items = member(object, field, items_key);
    if (!items.is_array()) fail(field + "." + items_key, "expected an array");
    for (size_t i = 0; i < items.size(); ++i) {
      auto nested = flatten(items[i], fmt::format("{}.{}[{}]", field, items_key, i), items_key);
      out.insert(out.end(), nested.begin(), nested.end());
    }
    return out;
  }

  std::filesystem::path file_;
};

}  // namespace electra::tokenizer_detail
