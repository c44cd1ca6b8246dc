#include "util/coding.h"

namespace corodb {

const char* GetVarint32PtrSlow(const char* p, const char* limit, uint32_t* v) {
  if (p >= limit) return nullptr;  // (also keeps p + 5 below from leaving the buffer)
  uint64_t wide = 0;
  const char* end =
      GetVarint64Ptr(p, limit - p < kMaxVarint32Length ? limit : p + kMaxVarint32Length, &wide);
  if (end == nullptr || wide > 0xffffffffu) return nullptr;
  *v = static_cast<uint32_t>(wide);
  return end;
}

const char* GetVarint64Ptr(const char* p, const char* limit, uint64_t* v) {
  uint64_t result = 0;
  for (uint32_t shift = 0; shift <= 63 && p < limit; shift += 7) {
    const auto byte = static_cast<uint64_t>(static_cast<unsigned char>(*p++));
    if (byte & 128) {
      result |= (byte & 127) << shift;
    } else {
      result |= byte << shift;
      *v = result;
      return p;
    }
  }
  return nullptr;
}

bool GetVarint64(Slice* input, uint64_t* v) {
  const char* p = input->data();
  const char* end = GetVarint64Ptr(p, p + input->size(), v);
  if (end == nullptr) return false;
  input->remove_prefix(static_cast<size_t>(end - p));
  return true;
}

bool GetFixed32(Slice* input, uint32_t* v) {
  if (input->size() < 4) return false;
  *v = DecodeFixed32(input->data());
  input->remove_prefix(4);
  return true;
}

bool GetFixed64(Slice* input, uint64_t* v) {
  if (input->size() < 8) return false;
  *v = DecodeFixed64(input->data());
  input->remove_prefix(8);
  return true;
}

}  // namespace corodb
