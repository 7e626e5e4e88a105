// The hub's settings from the environment, model ids and their cache folder, and resolve_model.
#include "hub/hub.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "common/files.h"
#include "tasks/text_file.h"

namespace electra {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

bool env_true(const char* name) {
  std::string value = env(name);
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::toupper(c); });
  return value == "1" || value == "ON" || value == "YES" || value == "TRUE";
}

fs::path expand_user(const std::string& path) {
  if (path.empty() || path[0] != '~') return path;
  const std::string home = env("HOME");
  if (home.empty()) throw std::invalid_argument(fmt::format("cannot expand '{}': HOME is not set", path));
  return fs::path(home) / path.substr(path.size() > 1 && path[1] == '/' ? 2 : 1);
}

fs::path hf_home() {
  if (const auto home = env("HF_HOME"); !home.empty()) return expand_user(home);
  if (const auto xdg = env("XDG_CACHE_HOME"); !xdg.empty()) return expand_user(xdg) / "huggingface";
  return expand_user("~/.cache/huggingface");
}

}  // namespace

HubOptions HubOptions::from_environment() {
  HubOptions options;
  if (auto endpoint = env("HF_ENDPOINT"); !endpoint.empty()) {
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    options.endpoint = endpoint;
  }
  options.cache_dir = default_hub_cache();
  options.token = env("HF_TOKEN");
  if (options.token.empty()) options.token = env("HUGGING_FACE_HUB_TOKEN");
  if (options.token.empty()) {
    const std::string token_path = env("HF_TOKEN_PATH");
    const fs::path file = token_path.empty() ? hf_home() / "token" : expand_user(token_path);
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) options.token = trim_ascii(read_file(file));
  }
  options.offline = env_true("HF_HUB_OFFLINE");
  return options;
}

fs::path default_hub_cache() {
  if (const auto cache = env("HF_HUB_CACHE"); !cache.empty()) return expand_user(cache);
  if (const auto legacy = env("HUGGINGFACE_HUB_CACHE"); !legacy.empty()) return expand_user(legacy);
  return hf_home() / "hub";
}

ModelId parse_model_id(const std::string& text) {
  ModelId id;
  const auto at = text.find('@');
  id.repo = text.substr(0, at);
  if (at != std::string::npos) id.revision = text.substr(at + 1);
  const auto valid_part = [](const std::string& part) {
    if (part.empty() || part.size() > 96) return false;
    if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.') return false;
    if (part.find("--") != std::string::npos || part.find("..") != std::string::npos) return false;
    return std::all_of(part.begin(), part.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
  };
  const auto slash = id.repo.find('/');
  const bool repo_ok = slash == std::string::npos
                           ? valid_part(id.repo)
                           : valid_part(id.repo.substr(0, slash)) && valid_part(id.repo.substr(slash + 1));
  if (!repo_ok) {
    throw std::invalid_argument(fmt::format(
        "'{}' is neither an existing model directory nor a hub model id of the form org/name[@revision]", text));
  }
  bool revision_ok = !id.revision.empty() && id.revision.front() != '/' && id.revision.back() != '/';
  for (const auto& part : fs::path(id.revision)) revision_ok = revision_ok && part != ".." && part != ".";
  revision_ok = revision_ok && std::none_of(id.revision.begin(), id.revision.end(), [](unsigned char c) {
                  return std::isspace(c) || std::iscntrl(c) || c == '\\';
                });
  if (!revision_ok) throw std::invalid_argument(fmt::format("bad revision '{}' in model id '{}'", id.revision, text));
  return id;
}

std::string repo_folder_name(const std::string& repo) {
  std::string name = "models--" + repo;
  for (auto pos = name.find('/'); pos != std::string::npos; pos = name.find('/', pos)) name.replace(pos, 1, "--");
  return name;
}

fs::path resolve_model(const std::string& path_or_id, const HubOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path_or_id, ec)) return path_or_id;
  const bool looks_like_path = path_or_id.empty() || path_or_id[0] == '/' || path_or_id[0] == '.' ||
                               path_or_id[0] == '~' || path_or_id.back() == '/' ||
                               std::count(path_or_id.begin(), path_or_id.end(), '/') > 1;
  if (looks_like_path && path_or_id.find('@') == std::string::npos) {
    throw std::invalid_argument(fmt::format("model directory '{}' does not exist", path_or_id));
  }
  try {
    return fetch_model(parse_model_id(path_or_id), options).dir;
  } catch (const std::runtime_error& e) {
    // "org/name" is also a relative path: say that no such folder exists either, in case a folder was meant.
    throw std::runtime_error(fmt::format("{} (read as a hub id: there is no folder '{}' relative to {})", e.what(),
                                         path_or_id, fs::current_path().string()));
  }
}

}  // namespace electra
