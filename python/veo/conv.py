"""veo.conv: py-veo's conversion helpers between Python values and the
64-bit word a VE call passes an argument in or returns its result in.

ConvToI64.from_<type>(x) gives the signed 64-bit value (an int) whose bits
are those the VE register holds for x as a C <type>; ConvFromI64.to_<type>(w)
reads a C <type> back out of such a word, as a C cast does (narrower
integers keep their low bits, a float sits in the upper 32 bits, a double
is the word's bit pattern). Values out of a type's range raise
OverflowError in ConvToI64, as py-veo's C conversions do.
"""
import operator
import struct

__all__ = ["ConvToI64", "ConvFromI64"]


def _int(x, lo, hi, what):
    if isinstance(x, float):
        raise TypeError("ConvToI64.from_%s(): an integer is required, not float" % what)
    v = operator.index(x)
    if not lo <= v <= hi:
        raise OverflowError("ConvToI64.from_%s(): %d is out of range [%d, %d]"
                            % (what, v, lo, hi))
    return v


def _signed64(u):
    """The unsigned 64-bit u read as signed."""
    return u - (1 << 64) if u >= 1 << 63 else u


def _word(x):
    if isinstance(x, float):
        raise TypeError("ConvFromI64: the word must be an integer, not float")
    v = operator.index(x)
    if not -(1 << 63) <= v < 1 << 64:
        raise OverflowError("ConvFromI64: %d is not a 64-bit word" % v)
    return v & ((1 << 64) - 1)


def _low(w, bits, signed):
    v = w & ((1 << bits) - 1)
    if signed and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


class ConvToI64:
    """Python value -> the signed 64-bit word of a VE argument."""

    @staticmethod
    def from_char(x):
        return _int(x, -(1 << 7), (1 << 7) - 1, "char")

    @staticmethod
    def from_uchar(x):
        return _int(x, 0, (1 << 8) - 1, "uchar")

    @staticmethod
    def from_short(x):
        return _int(x, -(1 << 15), (1 << 15) - 1, "short")

    @staticmethod
    def from_ushort(x):
        return _int(x, 0, (1 << 16) - 1, "ushort")

    @staticmethod
    def from_int(x):
        return _int(x, -(1 << 31), (1 << 31) - 1, "int")

    @staticmethod
    def from_uint(x):
        return _int(x, 0, (1 << 32) - 1, "uint")

    @staticmethod
    def from_long(x):
        return _int(x, -(1 << 63), (1 << 63) - 1, "long")

    @staticmethod
    def from_ulong(x):
        return _signed64(_int(x, 0, (1 << 64) - 1, "ulong"))

    @staticmethod
    def from_addr(x):
        return _signed64(_int(x, 0, (1 << 64) - 1, "addr"))

    @staticmethod
    def from_float(x):
        (bits,) = struct.unpack("<I", struct.pack("<f", float(x)))
        return _signed64(bits << 32)

    @staticmethod
    def from_double(x):
        (w,) = struct.unpack("<q", struct.pack("<d", float(x)))
        return w

    @staticmethod
    def from_void(x):
        return x


class ConvFromI64:
    """The 64-bit word of a VE result (signed or unsigned int) -> Python."""

    @staticmethod
    def to_char(w):
        return _low(_word(w), 8, True)

    @staticmethod
    def to_uchar(w):
        return _low(_word(w), 8, False)

    @staticmethod
    def to_short(w):
        return _low(_word(w), 16, True)

    @staticmethod
    def to_ushort(w):
        return _low(_word(w), 16, False)

    @staticmethod
    def to_int(w):
        return _low(_word(w), 32, True)

    @staticmethod
    def to_uint(w):
        return _low(_word(w), 32, False)

    @staticmethod
    def to_long(w):
        return _low(_word(w), 64, True)

    @staticmethod
    def to_ulong(w):
        return _word(w)

    @staticmethod
    def to_float(w):
        return struct.unpack("<f", struct.pack("<I", _word(w) >> 32))[0]

    @staticmethod
    def to_double(w):
        return struct.unpack("<d", struct.pack("<Q", _word(w)))[0]

    @staticmethod
    def to_void(w):
        return None
