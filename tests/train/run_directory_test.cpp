// The run directory's start-up check: a file system without room for a run's
// checkpoints is refused before training, naming the folder and both sizes.
#include "ewgs/train/run_directory.h"
#include "support/support.h"
#include "train/train_test_util.h"

namespace ewgs::test {
namespace {

TEST(RunDirectoryTest, CheckpointsThatDoNotFitAreRefusedNamingTheFolderAndTheSizes) {
  const auto dir = fresh_dir("room");
  const auto run = train::RunDirectory::for_new_run(dir);
  const uint64_t free = train::free_bytes(dir);
  ASSERT_NE(free, UINT64_MAX);
  run.check_room(1000);  // 4 kB for last.pt, best.pt and their copies: there is room
  // Half the free space per checkpoint: the four copies need twice what is free.
  const uint64_t half = free / 2;
  EWGS_EXPECT_THROWS_WITH(run.check_room(half), "run directory " + dir + ": its file system has ");
  EWGS_EXPECT_THROWS_WITH(
      run.check_room(half), "free but the run needs " + train::describe_bytes(4 * half));
}

}  // namespace
}  // namespace ewgs::test
