#include "hub/download.h"

#include <fmt/format.h>

#include <cstdio>
#include <stdexcept>

namespace electra {

void DownloadOptions::say(const std::string& line) const {
  if (!quiet) fmt::print(stderr, "{}\n", line);
}

http::Request download_request(const DownloadOptions& options, const std::string& url) {
  http::Request request;
  request.url = url;
  request.connect_timeout_s = options.connect_timeout_s;
  request.stall_timeout_s = options.stall_timeout_s;
  return request;
}

http::DownloadSpec download_spec(const DownloadOptions& options, const std::string& url,
                                 const std::filesystem::path& incomplete, const std::string& label) {
  http::DownloadSpec spec;
  spec.request = download_request(options, url);
  spec.request.follow_redirects = true;
  spec.incomplete = incomplete;
  spec.label = label;
  spec.max_retries = options.max_retries;
  spec.retry_delay_ms = options.retry_delay_ms;
  spec.progress = options.progress;
  return spec;
}

void commit_file(const std::filesystem::path& tmp, const std::filesystem::path& dest) {
  std::error_code ec;
  std::filesystem::rename(tmp, dest, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw std::runtime_error(fmt::format("cannot move {} to {}: {}", tmp.string(), dest.string(), ec.message()));
  }
}

std::string human_size(int64_t bytes) {
  if (bytes < 1000) return fmt::format("{} B", bytes);
  if (bytes < 1000 * 1000) return fmt::format("{:.1f} kB", bytes / 1e3);
  if (bytes < 1000LL * 1000 * 1000) return fmt::format("{:.1f} MB", bytes / 1e6);
  return fmt::format("{:.2f} GB", bytes / 1e9);
}

}  // namespace electra
