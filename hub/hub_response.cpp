#include "hub/hub_response.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace electra {

void check_path_component(const std::string& value, const char* what, const std::string& url) {
  const bool ok = !value.empty() && value != "." && value != ".." && value.size() <= 128 &&
                  std::all_of(value.begin(), value.end(), [](unsigned char c) {
                    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
                  });
  if (!ok) throw std::runtime_error(fmt::format("the hub sent an unusable {} '{}' for {}", what, value, url));
}

std::string origin_of(const std::string& url) {
  const auto scheme = url.find("://");
  const auto path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

std::optional<FileMetadata> file_metadata(const http::Response& response, const std::string& file,
                                          const std::string& url, const std::string& endpoint) {
  const long status = response.status;
  if (status == 404) {
    const std::string code = response.header("x-error-code").value_or("");
    if (code == "EntryNotFound" || (code.empty() && file != "config.json")) {
      FileMetadata meta;
      meta.commit = response.header("x-repo-commit").value_or("");
      return meta;
    }
  }
  if (status < 200 || status >= 400) return std::nullopt;
  FileMetadata meta;
  meta.exists = true;
  meta.commit = response.header("x-repo-commit").value_or("");
  if (meta.commit.empty()) {
    throw std::runtime_error(fmt::format(
        "{} answered without an X-Repo-Commit header for {}: is HF_ENDPOINT ({}) a Hugging Face hub?",
        origin_of(url), url, endpoint));
  }
  check_path_component(meta.commit, "commit", url);
  std::string etag = response.header("x-linked-etag").value_or(response.header("etag").value_or(""));
  if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
  etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
  if (etag.empty()) throw std::runtime_error(fmt::format("the hub sent no ETag for {}", url));
  check_path_component(etag, "ETag", url);
  meta.etag = etag;
  const auto size_text = response.header("x-linked-size") ? response.header("x-linked-size")
                                                          : response.header("content-length");
  if (size_text) {
    try {
      meta.size = std::stoll(*size_text);
    } catch (const std::exception&) {
    }
    if (!meta.size || *meta.size < 0)
      throw std::runtime_error(fmt::format("the hub sent a bad size '{}' for {}", *size_text, url));
  }
  const auto location = response.header("location");
  meta.location = status >= 300 && location ? *location : url;
  return meta;
}

}  // namespace electra
