// Bit packing of weight codes (include/ewgs/infer/model_file.h): one plain loop each
// way, the format's spec.
#include "ewgs/infer/model_file.h"

#include "ewgs/infer/error.h"

namespace ewgs::infer {

ArrayType packed_code_type(int bits) {
  static const ArrayType kTypes[] = {
      ArrayType::kU1, ArrayType::kU2, ArrayType::kU3, ArrayType::kU4};
  EWGS_INFER_CHECK(bits >= 1 && bits <= 4, "packed codes have 1 to 4 bits, got ", bits);
  return kTypes[bits - 1];
}

std::vector<uint8_t> pack_codes(
    const std::vector<uint8_t>& codes, int bits, int64_t rows, int64_t row_length) {
  EWGS_INFER_CHECK(
      static_cast<int64_t>(codes.size()) == rows * row_length,
      "pack_codes: ",
      codes.size(),
      " codes for ",
      rows,
      " rows of ",
      row_length);
  const int64_t row_bytes = (row_length * bits + 7) / 8;
  std::vector<uint8_t> packed(static_cast<size_t>(rows * row_bytes), 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < row_length; ++i) {
      const uint8_t code = codes[static_cast<size_t>(r * row_length + i)];
      EWGS_INFER_CHECK(
          code >> bits == 0, "pack_codes: code ", int{code}, " does not fit in ", bits, " bits");
      for (int b = 0; b < bits; ++b) {
        const int64_t bit = i * bits + b;
        packed[static_cast<size_t>(r * row_bytes + bit / 8)] |=
            static_cast<uint8_t>(((code >> b) & 1) << (bit % 8));
      }
    }
  }
  return packed;
}

std::vector<uint8_t> unpack_codes(
    const uint8_t* packed, int bits, int64_t rows, int64_t row_length) {
  const int64_t row_bytes = (row_length * bits + 7) / 8;
  std::vector<uint8_t> codes(static_cast<size_t>(rows * row_length), 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < row_length; ++i) {
      uint8_t code = 0;
      for (int b = 0; b < bits; ++b) {
        const int64_t bit = i * bits + b;
        code |= static_cast<uint8_t>(((packed[r * row_bytes + bit / 8] >> (bit % 8)) & 1) << b);
      }
      codes[static_cast<size_t>(r * row_length + i)] = code;
    }
  }
  return codes;
}

}  // namespace ewgs::infer
