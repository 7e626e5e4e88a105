#include "tokenizer/model_max_length.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace electra {

std::string fit_tokenizer_file(const std::string& name, const std::string& text, int64_t max_positions,
                               const std::filesystem::path& file) {
  if ((name != "tokenizer_config.json" && name != "tokenizer.json") || max_positions < 1) return text;
  nlohmann::ordered_json json = nlohmann::ordered_json::object();  // ordered: keys stay where the file had them
  if (!text.empty()) {
    try {
      json = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(fmt::format("{}: invalid JSON: {}", file.string(), e.what()));
    }
  }
  if (!json.is_object()) throw std::runtime_error(fmt::format("{}: expected a JSON object", file.string()));
  const auto within = [&](const nlohmann::ordered_json& value) {
    return value.is_number() && value.get<double>() <= static_cast<double>(max_positions);
  };
  if (name == "tokenizer_config.json") {
    const auto it = json.find("model_max_length");
    if (!text.empty() && it != json.end() && within(*it)) return text;
    json["model_max_length"] = max_positions;
  } else {
    const auto truncation = json.find("truncation");
    if (truncation == json.end() || !truncation->is_object()) return text;
    const auto length = truncation->find("max_length");
    if (length == truncation->end() || within(*length)) return text;
    *length = max_positions;
  }
  return json.dump(2) + "\n";
}

}  // namespace electra
