// ensure_task_data: a task's files in <data_dir>/<task>/, downloaded (with resume) from the URLs of the URL table,
// unpacked or split as it says, or taken from another task that has them, and recorded in manifest.json.
#include "hub/data.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/files.h"
#include "common/sha256.h"
#include "common/yaml_file.h"
#include "hub/archive_members.h"
#include "hub/data_sources.h"
#include "hub/http.h"
#include "hub/hub.h"
#include "hub/mrpc_split.h"

namespace electra {
namespace fs = std::filesystem;
namespace {

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string url_basename(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  std::string base = path.substr(path.find_last_of('/') + 1);
  for (char& c : base) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) c = '_';
  }
  return base.empty() || base == "." || base == ".." ? "download" : base;
}

class TaskDownloader {
 public:
  TaskDownloader(const TaskSource& task, const fs::path& data_dir, const DataOptions& options, const SourceTable& table)
      : task_(task),
        options_(options),
        table_(table.file),
        tasks_(table.tasks),
        data_dir_(data_dir),
        dir_(data_dir / task.name),
        downloads_(data_dir / ".downloads"),
        manifest_file_(dir_ / "manifest.json"),
        now_(utc_now()) {}

  DataManifest run();

 private:
  using Records = std::map<std::string, DataFileRecord>;
  // The records of manifest.json, by file name; none when there is no manifest yet.
  Records read_manifest() const;
  // Throws, listing `missing`, when downloads are off and something is missing.
  void check_offline(const std::vector<const FileSource*>& missing) const;
  // Takes what it can of `missing` from other tasks, removing it from `missing`.
  void reuse_from_siblings(std::vector<const FileSource*>& missing, Records& known, DataManifest& manifest);
  bool reuse_from_sibling(const FileSource& file);
  // Downloads the rest, one download per URL.
  void download(const std::vector<const FileSource*>& missing, Records& known, DataManifest& manifest);
  void place(const std::string& url, const std::vector<const FileSource*>& files);
  // <data_dir>/.downloads/<task>--<name of the URL>, downloaded unless it is there already.
  fs::path fetch(const std::string& url, const std::string& for_file);
  void add_record(const FileSource& file, Records& known, DataManifest& manifest) const;
  // Size and sha256 of every file of the task (hashing only what changed), checked against the table's sha256.
  // True when a record changed.
  bool hash_files(Records& known, DataManifest& manifest) const;
  void write_manifest(const DataManifest& manifest) const;
  void say(const std::string& line) const { options_.say(line); }

  const TaskSource& task_;
  DataOptions options_;
  fs::path table_;
  const std::vector<TaskSource>& tasks_;
  fs::path data_dir_, dir_, downloads_, manifest_file_;
  std::string now_;
  std::vector<fs::path> scratch_;  // downloads to delete once everything is in place
};

fs::path TaskDownloader::fetch(const std::string& url, const std::string& for_file) {
  const fs::path local = downloads_ / (task_.name + "--" + url_basename(url));
  if (fs::exists(local)) return local;
  fs::create_directories(downloads_);
  say(fmt::format("downloading {} ({} of task {})", url, for_file, task_.name));
  const http::DownloadSpec spec = download_spec(options_, url, local.string() + ".incomplete", url_basename(url));
  http::Response response;
  try {
    response = http::download(spec);
  } catch (const http::NetworkError& e) {
    throw std::runtime_error(fmt::format(
        "{} while downloading {} for task {}: check the network connection (and proxy settings), or place the "
        "task's files in {} by hand",
        e.what(), for_file, task_.name, dir_.string()));
  }
  if (response.status < 200 || response.status >= 300) {
    std::error_code ec;
    if (fs::file_size(spec.incomplete, ec) == 0) fs::remove(spec.incomplete, ec);
    const std::string advice =
        response.status == 404 || response.status == 410
            ? fmt::format("the publisher may have moved it: fix the entry of task '{}' in {}", task_.name, table_.string())
            : response.status == 401 || response.status == 403 ? std::string("the publisher refuses access")
                                                                 : std::string("try again later");
    throw std::runtime_error(fmt::format("{} answered HTTP {} for {} of task {}: {}", url, response.status, for_file,
                                         task_.name, advice));
  }
  commit_file(spec.incomplete, local);
  return local;
}

// Copies (hard-links when possible) a file another task took from the same URL and member, if it has it.
bool TaskDownloader::reuse_from_sibling(const FileSource& file) {
  if (file.split) return false;
  for (const auto& other : tasks_) {
    if (other.name == task_.name) continue;
    for (const auto& candidate : other.files) {
      if (candidate.url != file.url || candidate.member != file.member || candidate.split) continue;
      const fs::path source = data_dir_ / other.name / candidate.name;
      if (!fs::is_regular_file(source)) continue;
      const fs::path dest = dir_ / file.name;
      const fs::path tmp = dest.string() + ".tmp";
      fs::create_directories(dir_);
      std::error_code ec;
      fs::remove(tmp, ec);
      fs::create_hard_link(source, tmp, ec);
      if (ec) fs::copy_file(source, tmp, fs::copy_options::overwrite_existing);
      commit_file(tmp, dest);
      say(fmt::format("{} of task {}: taken from {}", file.name, task_.name, source.string()));
      return true;
    }
  }
  return false;
}

TaskDownloader::Records TaskDownloader::read_manifest() const {
  Records known;
  if (!fs::is_regular_file(manifest_file_)) return known;
  try {
    const auto json = nlohmann::json::parse(read_file(manifest_file_));
    for (const auto& item : json.at("files")) {
      DataFileRecord record;
      record.name = item.at("name").get<std::string>();
      record.url = item.value("url", "");
      record.member = item.value("member", "");
      record.size = item.at("size").get<int64_t>();
      record.sha256 = item.at("sha256").get<std::string>();
      record.date = item.value("date", "");
      known[record.name] = record;
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("bad manifest {}: {} (delete it to rebuild it)", manifest_file_.string(), e.what()));
  }
  return known;
}

void TaskDownloader::check_offline(const std::vector<const FileSource*>& missing) const {
  if (missing.empty() || !options_.offline) return;
  std::vector<std::string> lines;
  for (const auto* file : missing) lines.push_back(fmt::format("{} (from {})", file->name, file->url));
  throw std::runtime_error(fmt::format("task data for {} is missing in {} and downloads are off (--offline): {}; "
                                       "run `electra download data {}` where there is network, or place the files there",
                                       task_.name, dir_.string(), fmt::join(lines, ", "), task_.name));
}

// A file just placed: recorded with where it came from and today's date (size and sha256 filled by hash_files).
void TaskDownloader::add_record(const FileSource& file, Records& known, DataManifest& manifest) const {
  DataFileRecord record;
  record.name = file.name;
  record.url = file.url;
  record.member = file.member;
  record.date = now_;
  known[file.name] = record;
  manifest.downloaded.push_back(file.name);
}

void TaskDownloader::reuse_from_siblings(std::vector<const FileSource*>& missing, Records& known,
                                         DataManifest& manifest) {
  for (auto it = missing.begin(); it != missing.end();) {
    if (!reuse_from_sibling(**it)) {
      ++it;
      continue;
    }
    add_record(**it, known, manifest);
    it = missing.erase(it);
  }
}

// One download per URL, whatever number of files it gives.
void TaskDownloader::download(const std::vector<const FileSource*>& missing, Records& known, DataManifest& manifest) {
  if (!missing.empty()) fs::create_directories(dir_);
  std::vector<std::string> urls;
  for (const auto* file : missing) {
    if (std::find(urls.begin(), urls.end(), file->url) == urls.end()) urls.push_back(file->url);
  }
  for (const auto& url : urls) {
    std::vector<const FileSource*> files;
    for (const auto* file : missing) {
      if (file->url == url) files.push_back(file);
    }
    place(url, files);
    for (const auto* file : files) add_record(*file, known, manifest);
  }
}

// Downloads `url` and makes `files` of it: archive members unpacked, id splits carved, plain files copied.
void TaskDownloader::place(const std::string& url, const std::vector<const FileSource*>& files) {
  std::map<std::string, fs::path> members;
  std::vector<const FileSource*> plain;
  for (const auto* file : files) {
    if (file->member.empty()) {
      plain.push_back(file);
    } else {
      members[file->member] = dir_ / file->name;
    }
  }
  const auto first_member =
      std::find_if(files.begin(), files.end(), [](const FileSource* file) { return !file->member.empty(); });
  const fs::path local = fetch(url, (first_member != files.end() ? *first_member : plain.front())->name);
  scratch_.push_back(local);
  if (!members.empty()) {
    extract_members(local, url, members,
                    fmt::format("fix the members of task '{}' in {}", task_.name, table_.string()));
  }
  for (const auto* file : plain) {
    if (file->split) {
      const fs::path ids = fetch(file->split->ids_url, file->name + " (id list)");
      scratch_.push_back(ids);
      split_by_ids(local, ids, *file->split, file->url, dir_ / file->name);
    } else {
      const fs::path tmp = (dir_ / file->name).string() + ".tmp";
      fs::copy_file(local, tmp, fs::copy_options::overwrite_existing);
      commit_file(tmp, dir_ / file->name);
    }
  }
}

bool TaskDownloader::hash_files(Records& known, DataManifest& manifest) const {
  bool changed = false;
  for (const auto& file : task_.files) {
    const fs::path path = dir_ / file.name;
    const int64_t size = static_cast<int64_t>(fs::file_size(path));
    auto it = known.find(file.name);
    if (it == known.end()) {
      DataFileRecord record;  // placed there by hand: recorded without a URL, dated when first seen
      record.name = file.name;
      record.date = now_;
      it = known.emplace(file.name, record).first;
    }
    DataFileRecord& record = it->second;
    if (record.sha256.empty() || record.size != size) {
      record.size = size;
      record.sha256 = sha256_file(path);
      changed = true;
    }
    if (!file.sha256.empty() && record.sha256 != file.sha256) {
      fs::remove(path);
      std::error_code ec;
      fs::remove(manifest_file_, ec);
      throw std::runtime_error(fmt::format(
          "{} of task {} has sha256 {} but {} expects {}; the file was deleted: run again to download it again",
          file.name, task_.name, record.sha256, table_.string(), file.sha256));
    }
    manifest.files.push_back(record);
  }
  return changed;
}

void TaskDownloader::write_manifest(const DataManifest& manifest) const {
  nlohmann::json json;
  json["task"] = task_.name;
  json["source"] = task_.source;
  json["files"] = nlohmann::json::array();
  for (const auto& record : manifest.files) {
    nlohmann::json item = {{"name", record.name}, {"size", record.size}, {"sha256", record.sha256}, {"date", record.date}};
    item["url"] = record.url.empty() ? nlohmann::json(nullptr) : nlohmann::json(record.url);
    if (!record.member.empty()) item["member"] = record.member;
    json["files"].push_back(item);
  }
  write_file_atomic(manifest_file_, json.dump(2) + "\n");
}

DataManifest TaskDownloader::run() {
  DataManifest manifest;
  manifest.task = task_.name;
  manifest.dir = dir_;
  Records known = read_manifest();
  std::vector<const FileSource*> missing;
  for (const auto& file : task_.files) {
    if (!fs::is_regular_file(dir_ / file.name)) missing.push_back(&file);
  }
  check_offline(missing);
  reuse_from_siblings(missing, known, manifest);
  download(missing, known, manifest);
  const bool downloaded = !manifest.downloaded.empty();
  if (hash_files(known, manifest) || downloaded) write_manifest(manifest);
  for (const auto& path : scratch_) {
    std::error_code ec;
    fs::remove(path, ec);
  }
  std::error_code ec;
  if (fs::is_directory(downloads_) && fs::is_empty(downloads_, ec)) fs::remove(downloads_, ec);
  return manifest;
}

}  // namespace

fs::path default_data_dir() {
  if (const char* dir = std::getenv("ELECTRA_DATA"); dir && *dir) return dir;
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw std::invalid_argument("cannot find the data directory: set ELECTRA_DATA or HOME, or pass --data-dir");
  return fs::path(home) / ".cache" / "electra" / "data";
}

DataManifest ensure_task_data(const std::string& task, const fs::path& data_dir, const DataOptions& options) {
  const SourceTable table = load_sources(options);
  return TaskDownloader(table.task(task), data_dir, options, table).run();
}

}  // namespace electra
