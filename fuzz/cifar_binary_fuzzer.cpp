// libFuzzer target: the CIFAR-10/100 binary readers on files made from the input
// (a uint16-length class-name file, then the records), then every sample read.
#include <c10/util/Exception.h>

#include "ewgs/data/cifar_binary.h"
#include "fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const bool cifar100 = (data[0] & 1) != 0;
  ewgs::fuzz::Parts parts(data + 1, size - 1);
  const std::string names = parts.next();
  const std::string records = parts.rest();
  const std::string dir = ewgs::fuzz::scratch_folder();
  const auto write = [&](const std::string& name, const std::string& bytes) {
    ewgs::fuzz::write_bytes(
        dir + "/" + name, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  };
  write(cifar100 ? "fine_label_names.txt" : "batches.meta.txt", names);
  write(cifar100 ? "test.bin" : "test_batch.bin", records);
  try {
    const auto set = cifar100 ? ewgs::data::load_cifar100_binary(dir, "test")
                              : ewgs::data::load_cifar10_binary(dir, "test");
    ewgs::fuzz::read_every_sample(*set);
  } catch (const c10::Error&) {
  }
  return 0;
}
