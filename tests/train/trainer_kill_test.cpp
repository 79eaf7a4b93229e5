// Crash consistency of a run directory: a training process killed at every step
// of every write of its epoch commits (and of its summary) resumes to the same
// metrics.jsonl, summary.json, last.pt and best.pt as an uninterrupted run; a
// full disk is a clear error that keeps the earlier checkpoint, and an unwritable
// run directory is found before any data is read.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ewgs/train/checkpoint.h"
#include "support/subprocess.h"
#include "support/support.h"
#include "train/train_test_util.h"

namespace ewgs::test {
namespace {
namespace fs = std::filesystem;

/// Runs the trainer child (trainer_child.cpp) with `args`.
ProcessResult run_child(const std::vector<std::string>& args) {
  return run_process(EWGS_TRAINER_CHILD, args);
}

/// Wall-clock fields differ between any two runs; everything else must not.
void drop_timings(nlohmann::json& value) {
  if (value.is_object()) {
    for (const char* key :
         {"epoch_time_s", "eval_time_s", "images_per_s", "wall_s", "probe_seconds"}) {
      value.erase(key);
    }
  }
  if (value.is_object() || value.is_array()) {
    for (auto& item : value) {
      drop_timings(item);
    }
  }
}

/// The lines of a JSON-lines (or one JSON) file without wall-clock fields.
std::vector<nlohmann::json> records_without_timings(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
    out.push_back(nlohmann::json::parse(in));
  } else {
    for (std::string line; std::getline(in, line);) {
      out.push_back(nlohmann::json::parse(line));
    }
  }
  for (auto& r : out) {
    drop_timings(r);
  }
  return out;
}

/// Asserts that `dir` holds the same results as the reference run `ref`.
void expect_same_run(const std::string& dir, const std::string& ref, const std::string& what) {
  EXPECT_EQ(
      records_without_timings(dir + "/metrics.jsonl"),
      records_without_timings(ref + "/metrics.jsonl"))
      << what;
  EXPECT_EQ(
      records_without_timings(dir + "/summary.json"),
      records_without_timings(ref + "/summary.json"))
      << what;
  for (const char* name : {"last.pt", "best.pt"}) {
    const auto ours = train::read_checkpoint_model_state(dir + "/" + name);
    const auto theirs = train::read_checkpoint_model_state(ref + "/" + name);
    ASSERT_EQ(ours.size(), theirs.size()) << what << " " << name;
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_TRUE(all_equal(ours[i].second, theirs[i].second))
          << what << " " << name << " " << ours[i].first;
    }
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name.find(".tmp.") == std::string::npos && name != "best.pt.pending")
        << what << ": left " << name;
  }
}

TEST(TrainerKillTest, AKillAtEveryWriteResumesToTheSameRun) {
  const auto data = tiny_data("kill_data");
  const auto ref = fresh_dir("kill_reference");
  const auto events_path = ref + ".writes";
  const auto reference = run_child({data, ref, "2", "--log-writes=" + events_path});
  ASSERT_EQ(reference.status, 0) << reference.stderr_text;
  std::vector<std::string> events;
  std::ifstream in(events_path);
  for (std::string line; std::getline(in, line);) {
    events.push_back(line);
  }
  // Epoch 1 is the best so far and commits best.pt too; the run ends with its summary.
  const auto count = [&](const std::string& event) {
    return std::count(events.begin(), events.end(), event);
  };
  ASSERT_EQ(count("best.pt:published:1"), 1) << "the reference run must commit a best epoch";
  ASSERT_EQ(count("last.pt:published:2"), 1);
  ASSERT_EQ(count("summary.json:published:1"), 1);
  int resumed = 0;
  for (const auto& event : events) {
    const auto dir = fresh_dir("kill_run");
    const auto killed = run_child({data, dir, "2", "--kill-at=" + event});
    ASSERT_EQ(killed.signal, SIGKILL) << event << ": " << killed.stderr_text;
    // What a user does next: resume when there is a checkpoint, else start again.
    const bool can_resume = fs::exists(dir + "/last.pt");
    resumed += can_resume;
    const auto finished =
        can_resume ? run_child({data, dir, "2", "--resume"}) : run_child({data, dir, "2"});
    ASSERT_EQ(finished.status, 0) << event << ": " << finished.stderr_text;
    expect_same_run(dir, ref, "killed at " + event);
  }
  EXPECT_GT(resumed, static_cast<int>(events.size()) / 2);
}

TEST(TrainerKillTest, AFullDiskIsAClearErrorThatKeepsTheEarlierCheckpoint) {
  const auto data = tiny_data("full_data");
  const auto dir = fresh_dir("full_disk");
  ASSERT_EQ(run_child({data, dir, "1"}).status, 0);
  const std::string last = read_all(dir + "/last.pt");
  // Room for config.toml and metrics.jsonl, not for a checkpoint.
  const auto full = run_child(
      {data, dir, "2", "--resume", "--file-size-limit=" + std::to_string(last.size() / 2)});
  ASSERT_EQ(full.signal, 0) << "killed by signal " << full.signal << ": " << full.stderr_text;
  EXPECT_EQ(full.status, 1);
  EXPECT_NE(full.stderr_text.find("cannot write " + dir + "/"), std::string::npos)
      << full.stderr_text;
  EXPECT_NE(full.stderr_text.find("the file needs"), std::string::npos) << full.stderr_text;
  EXPECT_TRUE(read_all(dir + "/last.pt") == last) << "last.pt was overwritten";
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name.find(".tmp.") == std::string::npos && name != "best.pt.pending")
        << "left " << name;
  }
  // The run continues once there is room.
  ASSERT_EQ(run_child({data, dir, "2", "--resume"}).status, 0);
}

TEST(TrainerKillTest, AnUnwritableRunDirectoryFailsBeforeTheDataIsRead) {
  // No file can grow past 512 bytes (room for the error on stderr, not for
  // config.toml), and the data folder does not exist: the error must be the run
  // directory's, found before any data is read.
  const auto dir = fresh_dir("unwritable");
  const auto result = run_child({fresh_dir("no_data"), dir, "1", "--file-size-limit=512"});
  ASSERT_EQ(result.signal, 0) << "killed by signal " << result.signal << ": " << result.stderr_text;
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.stderr_text.find("cannot write " + dir + "/config.toml"), std::string::npos)
      << result.stderr_text;
  EXPECT_EQ(result.stderr_text.find("does not exist"), std::string::npos) << result.stderr_text;
  EXPECT_FALSE(fs::exists(dir)) << "the folder made for the rejected run stays";
}

}  // namespace
}  // namespace ewgs::test
