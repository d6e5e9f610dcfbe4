"""Compressed frames (JPEG, PNG): the size from the header first, then strict, quiet decoding.

Nothing is decoded before the stream's own header has been read: the kind comes from the
signature bytes, the size from the JPEG frame header (SOF) or the PNG IHDR chunk, and a frame over
the pixel cap is refused with ImageTooLargeError before a single pixel is allocated. Decoding is
strict (a stream with missing or damaged data is an ImageDecodeError, never a partly grey picture)
and no decoder writes to stderr:

- JPEG goes to libjpeg-turbo through simplejpeg when it is installed. Its TurboJPEG interface
  keeps libjpeg's messages as text instead of printing them, reports every warning (premature
  end, bad Huffman code, ...) as a failure, and scales in the DCT domain (1/2, 1/4, 1/8), so a
  frame much larger than the model needs is decoded straight to a small picture.
- PNG is checked in Python first: every chunk's CRC, the zlib stream inflated in bounded pieces
  to exactly the size the header declares, every row's filter type. Only then does OpenCV's libpng
  get a minimal copy (IHDR, PLTE, IDAT, IEND) that leaves it nothing to warn about: OpenCV 4.5's
  libpng prints its warnings and errors itself, past OpenCV's log level.
- Without simplejpeg, JPEG falls back to OpenCV (IMREAD_REDUCED_* for the same scaling). That
  route refuses streams without an end marker but is neither fully strict nor quiet: libjpeg
  fills missing data with grey and prints its warnings. `JPEG_DECODER` says which one is in use.

EXIF orientation is ignored, as image_transport's compressed subscriber ignores it: the picture
is the sensor's frame.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
import struct
from typing import TYPE_CHECKING, Union
import zlib

import cv2
import numpy as np

from mobilenetv1_ros.core.opencv import imdecode
from mobilenetv1_ros.core.errors import (
    ConfigError,
    ImageDecodeError,
    ImageTooLargeError,
    UnsupportedEncodingError,
)

try:
    import simplejpeg
except ImportError:  # optional: JPEG then falls back to OpenCV (see the module docstring)
    simplejpeg = None

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = [
    'COMPRESSED_FORMATS',
    'DEFAULT_MAX_PIXELS',
    'JPEG_DECODER',
    'JPEG_DECODERS',
    'MAX_JPEG_SCANS',
    'MAX_SIDE',
    'DecodedImage',
    'ImageHeader',
    'check_format',
    'decode',
    'read_header',
    'reduction_for',
]

Buffer = Union[bytes, bytearray, memoryview, 'npt.NDArray[np.uint8]']

COMPRESSED_FORMATS = ('jpeg', 'jpg', 'png')
"""Names one of which a CompressedImage format string must contain (or be empty)."""

DEFAULT_MAX_PIXELS = 4096 * 4096
"""Default pixel cap: above every camera stream up to 4K (3840x2160, 4096x2160) and above 4:3
sensors read out whole (4056x3040); a BGR picture at the cap is 48 MiB."""

MAX_SIDE = 65535
"""Longest side accepted whatever the pixel cap: JPEG's own limit. libpng refuses (and prints)
from 1,000,000 and OpenCV from 2^20, so a thin PNG must not get that far."""

MAX_JPEG_SCANS = 64
"""Most scans a JPEG may have. Every scan of a progressive JPEG is another pass over the whole
image, so a small file of many scans is a work bomb. libjpeg's standard progression has 10 (6
for greyscale), baseline JPEG one per component at most."""

MAX_JPEG_SEGMENTS = 1024
"""Most marker segments before a JPEG's first scan (real files: tens, ICC profiles included)."""

MAX_PNG_CHUNKS = 8192
"""Most PNG chunks: 64 MiB of image data in libpng's default 8 KiB IDAT chunks."""

JPEG_DECODERS = ('simplejpeg', 'opencv')
"""JPEG decoders this module can use, the strict one first."""

JPEG_DECODER = 'simplejpeg' if simplejpeg is not None else 'opencv'
"""The JPEG decoder used unless a call names one: simplejpeg when it can be imported."""

_REDUCTIONS = (8, 4, 2)
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_PNG_IEND = b'\x00\x00\x00\x00IEND\xaeB`\x82'
_PNG_BITS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_MAX_LENGTH = 2**31 - 1
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))
_INFLATE_STEP = 1 << 20
_JPEG_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                       0xCF))
_JPEG_LOSSLESS = frozenset((0xC3, 0xC7, 0xCB, 0xCF))
_JPEG_PARAMETERLESS = frozenset((0x01, *range(0xD0, 0xD8)))
_JPEG_SOS = 0xDA
_JPEG_EOI = b'\xff\xd9'
_JPEG_FILL = re.compile(rb'\xff+')
# The one libjpeg warning after which the picture is complete: junk between the last scan and
# the end marker, which some USB cameras add to every frame. TurboJPEG reports the first
# warning only, so when it is this one nothing else went wrong before the end.
_JPEG_JUNK_BEFORE_EOI = re.compile(r'Corrupt JPEG data: \d+ extraneous bytes before marker 0xd9')


@dataclass(frozen=True)
class ImageHeader:
    """What a compressed stream declares about itself, read without decoding.

    Attributes:
        kind: 'jpeg' or 'png' (from the signature bytes, whatever the format string says).
        width: Declared width in pixels.
        height: Declared height in pixels.
    """

    kind: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        """Declared number of pixels."""
        return self.width * self.height


@dataclass(frozen=True)
class DecodedImage:
    """A decoded frame.

    Attributes:
        image: BGR picture (H, W, 3), uint8; 1/reduction of the declared size, rounded up.
        header: The stream's declared size and kind.
        reduction: 1 (full size), 2, 4 or 8 (JPEG decoded at that fraction in the DCT domain).
    """

    image: npt.NDArray[np.uint8]
    header: ImageHeader
    reduction: int


@dataclass(frozen=True)
class _Jpeg:
    header: ImageHeader
    first_scan: int
    lossless: bool


@dataclass(frozen=True)
class _Png:
    header: ImageHeader
    bit_depth: int
    color_type: int
    interlaced: bool


def check_format(fmt: str) -> None:
    """Accept a CompressedImage format string that is empty or names JPEG or PNG.

    Raises:
        UnsupportedEncodingError: The format names neither.
    """
    lowered = fmt.lower()
    if lowered and not any(name in lowered for name in COMPRESSED_FORMATS):
        raise UnsupportedEncodingError(
            f'Compressed format {fmt!r} is not supported (jpeg or png)')


def read_header(data: Buffer) -> ImageHeader:
    """Return the kind and declared size of a JPEG or PNG stream without decoding it.

    Raises:
        ImageDecodeError: Neither signature, or a header that is truncated or malformed.
        ImageTooLargeError: More marker segments before the first JPEG scan than allowed.
    """
    return _parse(_to_bytes(data), None).header


def reduction_for(width: int, height: int, min_width: int, min_height: int) -> int:
    """Return the largest of 8, 4, 2 that leaves at least min_width x min_height, else 1.

    A side reduced by k is ceil(side / k), as libjpeg rounds.
    """
    for k in _REDUCTIONS:
        if -(-width // k) >= min_width and -(-height // k) >= min_height:
            return k
    return 1


def decode(data: Buffer, fmt: str = '', *, min_size: tuple[int, int] | None = None,
           max_pixels: int = DEFAULT_MAX_PIXELS,
           jpeg_decoder: str | None = None) -> DecodedImage:
    """Decode a JPEG or PNG frame to BGR after checking its declared size against the caps.

    Args:
        data: The encoded bytes.
        fmt: The message's format string: empty or naming jpeg/jpg/png. The signature bytes
            decide how the data is decoded.
        min_size: (width, height) the picture must keep at least: a JPEG is then decoded at
            the smallest of 1/8, 1/4, 1/2 that keeps both (reduction_for). None: full size.
        max_pixels: Cap on the declared width x height.
        jpeg_decoder: One of JPEG_DECODERS; None for JPEG_DECODER.

    Raises:
        UnsupportedEncodingError: The format names neither JPEG nor PNG.
        ImageTooLargeError: Declared size, side, JPEG scans or PNG chunks over their caps.
        ImageDecodeError: Not JPEG or PNG, or damaged, truncated or malformed data.
        ConfigError: Invalid min_size, max_pixels or jpeg_decoder.
    """
    check_format(fmt)
    min_width, min_height = _check_min_size(min_size)
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise ConfigError(f'Pixel cap {max_pixels!r} must be a positive integer')
    decoder = _check_decoder(jpeg_decoder)
    raw = _to_bytes(data)
    parsed = _parse(raw, max_pixels)
    header = parsed.header
    if isinstance(parsed, _Png):
        image = _decode_png(raw, parsed)
        reduction = 1
    else:
        _check_scans(raw, parsed)
        reduction = 1
        if min_size is not None and not parsed.lossless:
            reduction = reduction_for(header.width, header.height, min_width, min_height)
        if decoder == 'simplejpeg':
            image = _decode_jpeg_simplejpeg(raw, parsed, reduction)
        else:
            image = _decode_jpeg_opencv(raw, parsed, reduction)
    expected = (-(-header.height // reduction), -(-header.width // reduction), 3)
    if image.shape != expected:
        raise ImageDecodeError(
            f'{header.kind.upper()} declared as {header.width}x{header.height} decoded to '
            f'{image.shape[1]}x{image.shape[0]} (expected {expected[1]}x{expected[0]})')
    return DecodedImage(image, header, reduction)


def _check_min_size(min_size: tuple[int, int] | None) -> tuple[int, int]:
    if min_size is None:
        return 0, 0
    if (len(min_size) != 2
            or any(isinstance(side, bool) or not isinstance(side, int) or side < 0
                   for side in min_size)):
        raise ConfigError(f'Minimum size {min_size!r} must be two non-negative integers')
    return min_size[0], min_size[1]


def _check_decoder(name: str | None) -> str:
    if name is None:
        return JPEG_DECODER
    if name not in JPEG_DECODERS:
        raise ConfigError(f'JPEG decoder {name!r} is not one of: {", ".join(JPEG_DECODERS)}')
    if name == 'simplejpeg' and simplejpeg is None:
        raise ConfigError("JPEG decoder 'simplejpeg' is not installed (pip install simplejpeg)")
    return name


def _to_bytes(data: Buffer) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, np.ndarray):
        return data.tobytes()
    return bytes(data)


def _parse(raw: bytes, max_pixels: int | None) -> _Jpeg | _Png:
    """Read the header; with a cap, refuse an oversized frame as soon as its size is known."""
    if not raw:
        raise ImageDecodeError('Compressed image is empty (0 bytes)')
    if raw.startswith(_PNG_SIGNATURE):
        png = _parse_png(raw)
        if max_pixels is not None:
            _check_size(png.header, max_pixels)
        return png
    if raw.startswith(b'\xff\xd8'):
        return _parse_jpeg(raw, max_pixels)
    raise ImageDecodeError(
        f'Compressed image ({len(raw)} bytes, starting {raw[:8].hex(" ")}) is neither JPEG nor '
        'PNG')


def _check_size(header: ImageHeader, max_pixels: int) -> None:
    kind, width, height = header.kind.upper(), header.width, header.height
    if width == 0 or height == 0:
        raise ImageDecodeError(f'{kind} declares an empty size {width}x{height}')
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ImageTooLargeError(
            f'{kind} size {width}x{height} has a side over the limit of {MAX_SIDE} pixels')
    if header.pixels > max_pixels:
        raise ImageTooLargeError(
            f'{kind} size {width}x{height} ({header.pixels} pixels) is over the cap of '
            f'{max_pixels} pixels')


def _parse_jpeg(raw: bytes, max_pixels: int | None) -> _Jpeg:
    """Walk the marker segments up to the first scan; check the frame header's size on sight."""
    size = len(raw)
    pos = 2
    frame: tuple[int, int, int] | None = None
    for _ in range(MAX_JPEG_SEGMENTS + 1):
        fill = _JPEG_FILL.match(raw, pos)
        if fill is None:
            if pos >= size:
                raise ImageDecodeError(
                    f'JPEG ends after {size} bytes, before its first scan (truncated)')
            raise ImageDecodeError(
                f'JPEG has byte 0x{raw[pos]:02x} at offset {pos} where a marker must start')
        start, pos = fill.end() - 1, fill.end()
        if pos >= size:
            raise ImageDecodeError(f'JPEG ends after {size} bytes, before its first scan '
                                   '(truncated)')
        marker = raw[pos]
        pos += 1
        if marker in _JPEG_PARAMETERLESS:
            continue
        if marker in (0x00, 0xD8, 0xD9):
            raise ImageDecodeError(
                f'JPEG has marker 0xff{marker:02x} at offset {start} before its first scan')
        if pos + 2 > size:
            raise ImageDecodeError(f'JPEG ends after {size} bytes, before its first scan '
                                   '(truncated)')
        length = (raw[pos] << 8) | raw[pos + 1]
        end = pos + length
        if length < 2 or end > size:
            raise ImageDecodeError(
                f'JPEG segment 0xff{marker:02x} at offset {start} declares {length} bytes, '
                f'{size - pos} remain (truncated or malformed)')
        if marker in _JPEG_SOF and frame is None:
            if length < 8:
                raise ImageDecodeError(
                    f'JPEG frame header at offset {start} is {length} bytes, shorter than 8')
            height, width = struct.unpack_from('>HH', raw, pos + 3)
            frame = (marker, width, height)
            if max_pixels is not None:
                _check_size(ImageHeader('jpeg', width, height), max_pixels)
        elif marker == _JPEG_SOS:
            if frame is None:
                raise ImageDecodeError(
                    f'JPEG scan at offset {start} comes before any frame header (SOF)')
            sof, width, height = frame
            return _Jpeg(ImageHeader('jpeg', width, height), start, sof in _JPEG_LOSSLESS)
        pos = end
    raise ImageTooLargeError(
        f'JPEG has more than {MAX_JPEG_SEGMENTS} marker segments before its first scan')


def _check_scans(raw: bytes, jpeg: _Jpeg) -> None:
    # Inside entropy-coded data 0xff is always followed by 0x00 or a restart marker, so every
    # ff da from the first scan on starts a scan.
    scans = raw.count(b'\xff\xda', jpeg.first_scan)
    if scans > MAX_JPEG_SCANS:
        raise ImageTooLargeError(f'JPEG has {scans} scans, over the cap of {MAX_JPEG_SCANS}')


def _decode_jpeg_simplejpeg(raw: bytes, jpeg: _Jpeg, reduction: int) -> npt.NDArray[np.uint8]:
    header = jpeg.header
    # simplejpeg takes the smallest TurboJPEG factor that keeps the given size: 1/k exactly.
    min_width = -(-header.width // reduction) if reduction > 1 else 0
    min_height = -(-header.height // reduction) if reduction > 1 else 0
    buffer = None
    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(
            raw, min_height=min_height, min_width=min_width, strict=False)
        # Decoding into our own buffer keeps the picture when the only warning is junk before
        # the end marker (the call raises, but the buffer holds every pixel).
        buffer = np.empty((height, width, 3), dtype=np.uint8)
        simplejpeg.decode_jpeg(raw, 'BGR', min_height=min_height, min_width=min_width,
                               buffer=buffer, strict=True)
        return buffer
    except (ValueError, RuntimeError) as error:
        if buffer is None or not _JPEG_JUNK_BEFORE_EOI.fullmatch(str(error)):
            raise ImageDecodeError(
                f'JPEG {header.width}x{header.height} ({len(raw)} bytes) does not decode: '
                f'{error}') from None
        return buffer


def _decode_jpeg_opencv(raw: bytes, jpeg: _Jpeg, reduction: int) -> npt.NDArray[np.uint8]:
    header = jpeg.header
    if raw.rfind(_JPEG_EOI) < jpeg.first_scan:
        raise ImageDecodeError(
            f'JPEG {header.width}x{header.height} ({len(raw)} bytes) has no end marker after '
            'its first scan (truncated)')
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}[reduction]
    return _imdecode(raw, flags, header)


def _imdecode(raw: bytes, flags: int, header: ImageHeader) -> npt.NDArray[np.uint8]:
    try:
        image = imdecode(np.frombuffer(raw, dtype=np.uint8),
                         flags | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error as error:
        raise ImageDecodeError(
            f'{header.kind.upper()} {header.width}x{header.height} ({len(raw)} bytes) does not '
            f'decode: {error}') from None
    if image is None:
        raise ImageDecodeError(
            f'{header.kind.upper()} {header.width}x{header.height} ({len(raw)} bytes) does not '
            'decode')
    return image


def _parse_png(raw: bytes) -> _Png:
    if len(raw) < 33:
        raise ImageDecodeError(f'PNG ends after {len(raw)} bytes, inside its header (truncated)')
    length, kind = struct.unpack_from('>I4s', raw, 8)
    if kind != b'IHDR' or length != 13:
        raise ImageDecodeError(
            f'PNG starts with chunk {kind!r} of {length} bytes, not a 13-byte IHDR')
    width, height, depth, color, compression, filtering, interlace = struct.unpack_from(
        '>IIBBBBB', raw, 16)
    if zlib.crc32(raw[12:29]) != struct.unpack_from('>I', raw, 29)[0]:
        raise ImageDecodeError('PNG IHDR chunk fails its CRC check')
    if width > _PNG_MAX_LENGTH or height > _PNG_MAX_LENGTH:
        raise ImageDecodeError(f'PNG size {width}x{height} is over the format limit of 2^31-1')
    if depth not in _PNG_BITS.get(color, ()):
        raise ImageDecodeError(f'PNG bit depth {depth} with colour type {color} is invalid')
    if compression or filtering or interlace > 1:
        raise ImageDecodeError(
            f'PNG compression {compression}, filter {filtering} or interlace {interlace} '
            'method is invalid (0, 0, 0 or 1)')
    return _Png(ImageHeader('png', width, height), depth, color, bool(interlace))


def _decode_png(raw: bytes, png: _Png) -> npt.NDArray[np.uint8]:
    return _imdecode(_minimal_png(raw, png), cv2.IMREAD_COLOR, png.header)


def _minimal_png(raw: bytes, png: _Png) -> bytes:
    """Validate the whole stream; return it as IHDR, PLTE (palette images), IDAT and IEND."""
    view = memoryview(raw)
    size = len(raw)
    pos = 33
    palette: memoryview | None = None
    idat: list[memoryview] = []
    idat_ended = False
    for _ in range(MAX_PNG_CHUNKS):
        if pos + 12 > size:
            raise ImageDecodeError(f'PNG ends after {size} bytes without an IEND chunk '
                                   '(truncated)')
        length, kind = struct.unpack_from('>I4s', raw, pos)
        name = kind.decode('latin-1')
        end = pos + 8 + length
        if not kind.isalpha() or length > _PNG_MAX_LENGTH:
            raise ImageDecodeError(
                f'PNG chunk at offset {pos} has an invalid type {kind!r} or length {length}')
        if end + 4 > size:
            raise ImageDecodeError(
                f'PNG chunk {name} at offset {pos} declares {length} bytes, {size - pos - 12} '
                'remain (truncated)')
        if zlib.crc32(view[pos + 4:end]) != struct.unpack_from('>I', raw, end)[0]:
            raise ImageDecodeError(f'PNG chunk {name} at offset {pos} fails its CRC check')
        if kind == b'IDAT':
            if idat_ended:
                raise ImageDecodeError(f'PNG IDAT chunk at offset {pos} follows other chunks '
                                       'after the image data (IDAT must be consecutive)')
            idat.append(view[pos:end + 4])
        else:
            idat_ended = bool(idat)
            if kind == b'IEND':
                break
            if kind == b'PLTE':
                if palette is not None or idat:
                    raise ImageDecodeError(f'PNG PLTE chunk at offset {pos} is a second one '
                                           'or comes after the image data')
                palette = view[pos:end + 4]
            elif kind == b'IHDR' or kind[0] < ord('a'):
                raise ImageDecodeError(
                    f'PNG chunk {name} at offset {pos} is a second IHDR or an unknown critical '
                    'chunk')
        pos = end + 4
    else:
        raise ImageTooLargeError(f'PNG has more than {MAX_PNG_CHUNKS} chunks')
    if not idat:
        raise ImageDecodeError('PNG has no image data (IDAT chunk)')
    _check_image_data([chunk[8:-4] for chunk in idat], png)
    parts: list[memoryview | bytes] = [_PNG_SIGNATURE, view[8:33]]
    if png.color_type == 3:
        entries = 0 if palette is None else len(palette) - 12
        if palette is None or not 0 < entries <= 768 or entries % 3:
            raise ImageDecodeError(
                f'PNG palette image has a palette of {entries} bytes (3 x 1..256 needed)')
        parts.append(palette)
    return b''.join([*parts, *idat, _PNG_IEND])


def _row_layout(png: _Png) -> list[tuple[int, int, int]]:
    """Return (first byte, rows, bytes per row with its filter byte) of each (Adam7) pass."""
    width, height = png.header.width, png.header.height
    bits = png.bit_depth * _PNG_CHANNELS[png.color_type]
    layout = []
    base = 0
    for x0, y0, dx, dy in _ADAM7 if png.interlaced else ((0, 0, 1, 1),):
        columns = -(-(width - x0) // dx) if width > x0 else 0
        rows = -(-(height - y0) // dy) if height > y0 else 0
        if columns and rows:
            row_bytes = 1 + (columns * bits + 7) // 8
            layout.append((base, rows, row_bytes))
            base += rows * row_bytes
    return layout


def _check_image_data(pieces: list[memoryview], png: _Png) -> None:
    """Inflate the IDAT data in bounded steps: exactly the declared size, filter types 0..4."""
    header = png.header
    layout = _row_layout(png)
    expected = sum(rows * row_bytes for _, rows, row_bytes in layout)
    described = f'PNG {header.width}x{header.height} image data'
    inflater = zlib.decompressobj()
    done = 0
    try:
        for piece in pieces:
            pending: bytes | memoryview = piece
            while True:
                out = inflater.decompress(pending, _INFLATE_STEP)
                if done + len(out) > expected:
                    raise ImageDecodeError(
                        f'{described} inflates to more than the {expected} bytes it needs')
                _check_filters(out, done, layout, described)
                done += len(out)
                pending = inflater.unconsumed_tail
                if not pending and len(out) < _INFLATE_STEP:
                    break
    except zlib.error as error:
        raise ImageDecodeError(f'{described} does not inflate: {error}') from None
    if not inflater.eof or done != expected:
        raise ImageDecodeError(
            f'{described} inflates to {done} of the {expected} bytes it needs'
            f'{"" if inflater.eof else " and its zlib stream is incomplete"} (truncated)')
    if inflater.unused_data:
        raise ImageDecodeError(
            f'{described} has {len(inflater.unused_data)} bytes after its zlib stream')


def _check_filters(out: bytes, start: int, layout: list[tuple[int, int, int]],
                   described: str) -> None:
    """Check the filter-type bytes that fall in out (bytes start.. of the inflated data)."""
    if not out:
        return
    values = np.frombuffer(out, dtype=np.uint8)
    stop = start + len(out)
    for base, rows, row_bytes in layout:
        end = base + rows * row_bytes
        if end <= start or base >= stop:
            continue
        first = base if start <= base else base + -(-(start - base) // row_bytes) * row_bytes
        filters = values[first - start:min(stop, end) - start:row_bytes]
        if filters.size and int(filters.max()) > 4:
            bad = int(np.argmax(filters > 4))
            raise ImageDecodeError(
                f'{described} has filter type {int(filters[bad])} at byte '
                f'{first + bad * row_bytes} (0..4 allowed)')
