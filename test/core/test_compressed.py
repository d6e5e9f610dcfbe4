"""Compressed frames: size caps from the header, strict and quiet decoding, bombs and fuzzing."""

from __future__ import annotations

import contextlib
import functools
import json
import os
from pathlib import Path
import struct
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from typing import Iterator
import zlib

import cv2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from shared import IMAGES_DIR
from mobilenetv1_ros.core import compressed
from mobilenetv1_ros.core.compressed import (
    DEFAULT_MAX_PIXELS,
    MAX_JPEG_SCANS,
    MAX_JPEG_SEGMENTS,
    MAX_PNG_CHUNKS,
    MAX_SIDE,
    decode,
    read_header,
    reduction_for,
)
from mobilenetv1_ros.core.errors import (
    ConfigError,
    ImageDecodeError,
    ImageTooLargeError,
    UnsupportedEncodingError,
)

#: Compressed-frame decoding runs in the node on the board (`board`: test/conftest.py).
pytestmark = pytest.mark.board

IMAGES = IMAGES_DIR
JPEG_PHOTOS = ('bulbul.JPEG', 'cat_1080p.jpg', 'cat_720p.jpg', 'hot_dog.jpg', 'parrot.jpg')
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2))
PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
SUBSAMPLING_MCU = {'444': (8, 8), '422': (16, 8), '420': (16, 16), '440': (8, 16),
                   '411': (32, 8), 'Gray': (8, 8)}

needs_simplejpeg = pytest.mark.skipif(compressed.JPEG_DECODER != 'simplejpeg',
                                      reason='simplejpeg is not installed')
fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers: real photos, encoders, stderr capture ---------------------------------------------

@functools.lru_cache(maxsize=None)
def photo(name: str, width: int | None = None, height: int | None = None) -> np.ndarray:
    image = cv2.imread(str(IMAGES / name), cv2.IMREAD_COLOR)
    assert image is not None, name
    if width is not None and height is not None:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    image.setflags(write=False)
    return image


def jpeg(image: np.ndarray, quality: int = 90, progressive: bool = False) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)]
    ok, data = cv2.imencode('.jpg', image, params)
    assert ok
    return data.tobytes()


def cv2_decode(data: bytes) -> np.ndarray | None:
    return cv2.imdecode(np.frombuffer(data, np.uint8),
                        cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def ihdr(width: int, height: int, depth: int = 8, color: int = 2, interlace: int = 0) -> bytes:
    return png_chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, depth, color, 0, 0,
                                          interlace))


def pack_samples(row: np.ndarray, depth: int) -> bytes:
    samples = row.reshape(-1)
    if depth == 16:
        return samples.astype('>u2').tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    bits = np.unpackbits(samples.astype(np.uint8)[:, None], axis=1)[:, 8 - depth:]
    return np.packbits(bits.reshape(-1)).tobytes()


def png(samples: np.ndarray, color: int, depth: int, *, interlaced: bool = False,
        palette: bytes | None = None, extra: bytes = b'') -> bytes:
    """Encode (H, W, channels) samples as a PNG (filter type 0); `extra` goes before IDAT."""
    height, width = samples.shape[:2]
    scanlines = bytearray()
    for x0, y0, dx, dy in ADAM7 if interlaced else ((0, 0, 1, 1),):
        for row in samples[y0::dy, x0::dx]:
            if row.size:
                scanlines += b'\x00' + pack_samples(row, depth)
    head = b'\x89PNG\r\n\x1a\n' + ihdr(width, height, depth, color, int(interlaced))
    if palette is not None:
        head += png_chunk(b'PLTE', palette)
    return (head + extra + png_chunk(b'IDAT', zlib.compress(bytes(scanlines)))
            + png_chunk(b'IEND', b''))


def jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (offset, marker, end) of the marker segments before the first scan."""
    pos = 2
    while True:
        marker = data[pos + 1]
        end = pos + 2 + struct.unpack_from('>H', data, pos + 2)[0]
        yield pos, marker, end
        if marker == 0xDA:
            return
        pos = end


def with_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header's declared size (the decompression-bomb trick)."""
    for pos, marker, _ in jpeg_segments(data):
        if marker in (0xC0, 0xC1, 0xC2):
            patched = bytearray(data)
            struct.pack_into('>HH', patched, pos + 5, height, width)
            return bytes(patched)
    raise AssertionError('no frame header')


def available_decoders() -> list[str]:
    return [name for name in compressed.JPEG_DECODERS
            if name != 'simplejpeg' or compressed.JPEG_DECODER == 'simplejpeg']


class Captured:
    """What was written to file descriptor 2 inside `stderr_of`."""

    text = b''


@contextlib.contextmanager
def stderr_of() -> Iterator[Captured]:
    """Capture file descriptor 2 itself: libjpeg and libpng print from C, past sys.stderr."""
    captured = Captured()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read()


# --- header and caps ----------------------------------------------------------------------------

@pytest.mark.parametrize('name', JPEG_PHOTOS)
def test_header_gives_the_size_of_real_photos(name: str) -> None:
    data = (IMAGES / name).read_bytes()
    header = read_header(data)
    assert header.kind == 'jpeg'
    assert (header.height, header.width) == photo(name).shape[:2]
    encoded = cv2.imencode('.png', photo(name))[1].tobytes()
    assert read_header(encoded) == compressed.ImageHeader('png', header.width, header.height)


def test_header_of_a_non_image_names_its_first_bytes() -> None:
    with pytest.raises(ImageDecodeError, match='42 4d'):
        read_header((IMAGES / 'cat.bmp').read_bytes())
    with pytest.raises(ImageDecodeError, match='empty'):
        decode(b'', 'jpeg')


@pytest.mark.parametrize('fmt', ['bmp', 'h264', 'rgb8', 'theora'])
def test_format_naming_neither_jpeg_nor_png_is_unsupported(fmt: str) -> None:
    with pytest.raises(UnsupportedEncodingError, match=repr(fmt)):
        decode((IMAGES / 'hot_dog.jpg').read_bytes(), fmt)


@pytest.mark.parametrize('fmt', ['', 'jpeg', 'JPG', 'bgr8; jpeg compressed bgr8', 'png'])
def test_format_strings_are_checked_but_the_signature_decides(fmt: str) -> None:
    decoded = decode((IMAGES / 'hot_dog.jpg').read_bytes(), fmt)
    assert decoded.header.kind == 'jpeg'
    assert decoded.image.shape == photo('hot_dog.jpg').shape


def test_jpeg_bomb_is_refused_from_its_header() -> None:
    small = jpeg(photo('cat_720p.jpg', 16, 16))
    bomb = with_jpeg_size(small, 32000, 32000)[:-40]
    assert len(bomb) < 1000
    with pytest.raises(ImageTooLargeError, match=rf'32000x32000 .*cap of {DEFAULT_MAX_PIXELS}'):
        decode(bomb, 'jpeg')


def png_bomb(side: int) -> bytes:
    rows = zlib.compress(bytes(side * (1 + side // 8)), 9)
    return (b'\x89PNG\r\n\x1a\n' + ihdr(side, side, 1, 0) + png_chunk(b'IDAT', rows)
            + png_chunk(b'IEND', b''))


def test_png_bomb_is_refused_before_anything_is_allocated() -> None:
    bomb = png_bomb(32000)
    assert len(bomb) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError, match='32000x32000'):
            decode(bomb, 'png')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(bomb) + 1_000_000


def test_cap_is_a_parameter_and_its_message_names_size_and_cap() -> None:
    data = (IMAGES / 'cat_720p.jpg').read_bytes()
    with pytest.raises(ImageTooLargeError, match=r'1280x720 \(921600 pixels\).*307200'):
        decode(data, max_pixels=640 * 480)
    assert decode(data, max_pixels=1280 * 720).image.shape == (720, 1280, 3)


def test_side_limit_holds_whatever_the_cap() -> None:
    thin = b'\x89PNG\r\n\x1a\n' + ihdr(MAX_SIDE + 1, 1, 8, 0)
    with pytest.raises(ImageTooLargeError, match=f'{MAX_SIDE + 1}x1 .*{MAX_SIDE}'):
        decode(thin, max_pixels=10**9)


def test_empty_declared_size_is_undecodable() -> None:
    with pytest.raises(ImageDecodeError, match='empty size 0x16'):
        decode(with_jpeg_size(jpeg(photo('cat_720p.jpg', 16, 16)), 0, 16))


@pytest.mark.parametrize('kwargs, match', [
    ({'max_pixels': 0}, 'Pixel cap 0'),
    ({'min_size': (-1, 5)}, r'Minimum size \(-1, 5\)'),
    ({'jpeg_decoder': 'pillow'}, "JPEG decoder 'pillow'"),
])
def test_bad_settings_are_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        decode((IMAGES / 'hot_dog.jpg').read_bytes(), **kwargs)


@pytest.mark.parametrize('size, minimum, expected', [
    ((1920, 1080), (256, 256), 4),
    ((1280, 720), (256, 256), 2),
    ((640, 480), (256, 256), 1),
    ((512, 929), (256, 256), 2),
    ((2048, 2048), (257, 257), 4),
    ((2049, 2049), (257, 257), 8),
    ((3840, 2160), (224, 224), 8),
    ((100, 100), (0, 0), 8),
])
def test_reduction_is_the_largest_that_keeps_the_minimum(size: tuple[int, int],
                                                         minimum: tuple[int, int],
                                                         expected: int) -> None:
    assert reduction_for(*size, *minimum) == expected


# --- strict decoding ----------------------------------------------------------------------------

@pytest.mark.parametrize('name', JPEG_PHOTOS)
def test_full_decode_equals_opencv(name: str) -> None:
    data = (IMAGES / name).read_bytes()
    decoded = decode(data)
    assert decoded.reduction == 1
    assert np.abs(decoded.image.astype(int) - cv2_decode(data)).max() <= 2


@pytest.mark.parametrize('name', ['cat_1080p.jpg', 'cat_720p.jpg', 'hot_dog.jpg'])
@pytest.mark.parametrize('reduction', [2, 4, 8])
def test_reduced_decode_is_the_area_resized_picture(name: str, reduction: int) -> None:
    data = (IMAGES / name).read_bytes()
    full = photo(name)
    height, width = full.shape[0] // reduction, full.shape[1] // reduction
    decoded = decode(data, min_size=(width, height))
    assert decoded.reduction == reduction
    assert decoded.image.shape == (height, width, 3)
    area = cv2.resize(full, (width, height), interpolation=cv2.INTER_AREA)
    assert np.abs(decoded.image.astype(int) - area).mean() < 1.0
    fallback = decode(data, min_size=(width, height), jpeg_decoder='opencv').image
    assert np.abs(decoded.image.astype(int) - fallback).max() <= 2


def test_every_buffer_type_decodes_alike() -> None:
    data = (IMAGES / 'hot_dog.jpg').read_bytes()
    expected = decode(data).image
    for buffer in (bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        assert np.array_equal(decode(buffer).image, expected)


def test_exif_orientation_is_ignored_like_image_transport() -> None:
    data = jpeg(photo('cat_720p.jpg', 64, 32))
    exif = b'Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06' \
           b'\x00\x00\x00\x00\x00\x00'
    rotated = data[:2] + b'\xff\xe1' + struct.pack('>H', len(exif) + 2) + exif + data[2:]
    plain = cv2.imdecode(np.frombuffer(rotated, np.uint8), cv2.IMREAD_COLOR)
    assert plain.shape[:2] == (64, 32)  # OpenCV's default turns it; the frame must not turn
    for decoder in available_decoders():
        assert decode(rotated, jpeg_decoder=decoder).image.shape == (32, 64, 3)


@needs_simplejpeg
@pytest.mark.parametrize('progressive', [False, True])
def test_every_truncation_of_a_jpeg_is_undecodable_and_silent(progressive: bool) -> None:
    data = jpeg(photo('parrot.jpg', 48, 40), progressive=progressive)
    with stderr_of() as captured:
        for cut in range(len(data)):
            with pytest.raises(ImageDecodeError):
                decode(data[:cut], min_size=(24, 20))
    assert captured.text == b''


def test_every_truncation_of_a_png_is_undecodable_and_silent() -> None:
    data = cv2.imencode('.png', photo('parrot.jpg', 40, 30))[1].tobytes()
    with stderr_of() as captured:
        for cut in range(len(data)):
            with pytest.raises(ImageDecodeError):
                decode(data[:cut])
    assert captured.text == b''


def test_truncated_jpeg_is_refused_by_the_opencv_fallback_too() -> None:
    data = jpeg(photo('cat_720p.jpg', 320, 240))
    with pytest.raises(ImageDecodeError, match='no end marker'):
        decode(data[:len(data) // 2], jpeg_decoder='opencv')


@needs_simplejpeg
def test_small_jpeg_claiming_a_larger_size_is_not_a_grey_frame() -> None:
    data = with_jpeg_size(jpeg(photo('cat_720p.jpg', 16, 16)), 640, 480)
    with stderr_of() as captured:
        with pytest.raises(ImageDecodeError, match='640x480.*premature end'):
            decode(data, 'jpeg')
    assert captured.text == b''


@needs_simplejpeg
def test_junk_before_the_end_marker_only_is_tolerated() -> None:
    data = jpeg(photo('cat_720p.jpg', 320, 240), progressive=True)
    clean = decode(data, min_size=(160, 120)).image
    junk_at_end = data[:-2] + b'\x00\x17' + data[-2:]
    assert np.array_equal(decode(junk_at_end, min_size=(160, 120)).image, clean)
    last_scan = data.rindex(b'\xff\xda')
    junk_before_scan = data[:last_scan] + b'\x00\x17' + data[last_scan:]
    cut_then_junk = data[:len(data) * 2 // 3] + b'\x00\x17\xff\xd9'
    with stderr_of() as captured:
        for broken in (junk_before_scan, cut_then_junk):
            with pytest.raises(ImageDecodeError):
                decode(broken, min_size=(160, 120))
    assert captured.text == b''


@needs_simplejpeg
def test_every_byte_flip_of_a_jpeg_is_rejected_or_full_size_and_silent() -> None:
    data = jpeg(photo('hot_dog.jpg', 40, 32))
    markers = {pos for pos, _, _ in jpeg_segments(data)}
    with stderr_of() as captured:
        for pos in range(len(data)):
            broken = bytearray(data)
            broken[pos] ^= 0x5A
            try:
                image = decode(bytes(broken), min_size=(20, 16)).image
            except (ImageDecodeError, ImageTooLargeError):
                continue
            # Damaged entropy-coded data can still be valid Huffman codes: a full, wrong picture.
            assert pos not in markers
            assert image.shape == (16, 20, 3)
    assert captured.text == b''


def test_every_byte_flip_of_a_png_is_rejected_and_silent() -> None:
    data = cv2.imencode('.png', photo('hot_dog.jpg', 24, 16))[1].tobytes()
    with stderr_of() as captured:
        for pos in range(len(data)):
            broken = bytearray(data)
            broken[pos] ^= 0x5A
            with pytest.raises(ImageDecodeError):
                decode(bytes(broken))
    assert captured.text == b''


def test_capture_sees_what_opencv_prints() -> None:
    data = cv2.imencode('.png', photo('hot_dog.jpg', 24, 16))[1].tobytes()
    with stderr_of() as captured:
        assert cv2_decode(data[:len(data) // 2]) is None
    assert b'PNG input buffer is incomplete' in captured.text


# --- PNG: what libpng would warn about never reaches it -----------------------------------------

def test_png_colour_types_depths_and_interlacing_decode_exactly() -> None:
    rng = np.random.default_rng(7)
    source = photo('parrot.jpg', 21, 13)
    with stderr_of() as captured:
        for interlaced in (False, True):
            rgb = source[..., ::-1]
            assert np.array_equal(decode(png(rgb, 2, 8, interlaced=interlaced)).image, source)
            rgba = np.dstack([rgb, rng.integers(0, 256, source.shape[:2])])
            assert np.array_equal(decode(png(rgba, 6, 8, interlaced=interlaced)).image, source)
            wide = rgb.astype(np.uint16) * 257
            assert np.array_equal(decode(png(wide, 2, 16, interlaced=interlaced)).image, source)
            for depth in (1, 2, 4, 8):
                grey = rng.integers(0, 1 << depth, (13, 21, 1))
                expected = (grey[..., 0] * (255 // ((1 << depth) - 1))).astype(np.uint8)
                image = decode(png(grey, 0, depth, interlaced=interlaced)).image
                assert np.array_equal(image, np.dstack([expected] * 3)), depth
    assert captured.text == b''


def test_palette_index_past_the_palette_is_black_and_quiet() -> None:
    indices = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])[..., None]
    palette = bytes([255, 0, 0, 0, 255, 0])  # entries 0 and 1 only; 2 and 3 are out of range
    data = png(indices, 3, 2, palette=palette)
    with stderr_of() as captured:
        image = decode(data).image
    assert captured.text == b''
    red, green, black = [0, 0, 255], [0, 255, 0], [0, 0, 0]
    assert image.tolist() == [[red, green, black, black], [black, black, green, red]]


def test_damaged_ancillary_chunks_are_dropped_quietly() -> None:
    iccp = png_chunk(b'iCCP', b'x\x00\x00' + zlib.compress(b'junk' * 10))
    data = png(photo('hot_dog.jpg', 8, 6)[..., ::-1], 2, 8, extra=iccp)
    with stderr_of() as control:
        cv2_decode(data)
    assert b'iCCP' in control.text
    with stderr_of() as captured:
        assert np.array_equal(decode(data).image, photo('hot_dog.jpg', 8, 6))
    assert captured.text == b''


def deflated(scanlines: bytes, width: int, height: int, color: int = 0) -> bytes:
    return (b'\x89PNG\r\n\x1a\n' + ihdr(width, height, 8, color)
            + png_chunk(b'IDAT', zlib.compress(scanlines)) + png_chunk(b'IEND', b''))


@pytest.mark.parametrize('scanlines, match', [
    (b'\x00abcd' + b'\x05abcd', 'filter type 5 at byte 5'),
    (b'\x00abcd' * 2 + b'\x00', 'more than the 10 bytes'),
    (b'\x00abcd', '5 of the 10 bytes'),
])
def test_png_image_data_must_be_exactly_right(scanlines: bytes, match: str) -> None:
    with stderr_of() as captured:
        with pytest.raises(ImageDecodeError, match=match):
            decode(deflated(scanlines, 4, 2))
    assert captured.text == b''


def test_png_structure_errors_name_the_chunk() -> None:
    good = png(photo('hot_dog.jpg', 4, 2)[..., ::-1], 2, 8)
    iend = good.rindex(b'IEND') - 4
    unknown = good[:iend] + png_chunk(b'ZZZZ', b'') + good[iend:]
    split = good[:iend] + png_chunk(b'tEXt', b'a\x00b') + png_chunk(b'IDAT', b'') + good[iend:]
    cases = [(unknown, 'ZZZZ'), (split, 'IDAT must be consecutive'),
             (good[:8] + good[33:], 'not a 13-byte IHDR')]
    for data, match in cases:
        with pytest.raises(ImageDecodeError, match=match):
            decode(data)


# --- work bombs inside the pixel cap ------------------------------------------------------------

def repeated_last_scan(scans: int) -> bytes:
    """A progressive JPEG whose last scan is repeated up to `scans` scans (a work bomb)."""
    data = jpeg(photo('cat_720p.jpg', 64, 48), progressive=True)
    last = data.rindex(b'\xff\xda')
    return data[:last] + data[last:-2] * (scans - data.count(b'\xff\xda') + 1) + data[-2:]


@pytest.mark.parametrize('decoder', available_decoders())
def test_too_many_jpeg_scans_are_refused_before_decoding(decoder: str) -> None:
    with pytest.raises(ImageTooLargeError, match=f'{MAX_JPEG_SCANS + 1} scans'):
        decode(repeated_last_scan(MAX_JPEG_SCANS + 1), jpeg_decoder=decoder)


@needs_simplejpeg
def test_jpeg_at_the_scan_cap_is_decoded_strictly() -> None:
    with stderr_of() as captured:
        with pytest.raises(ImageDecodeError, match='Inconsistent progression'):
            decode(repeated_last_scan(MAX_JPEG_SCANS))
    assert captured.text == b''


def test_too_many_segments_or_chunks_are_refused() -> None:
    data = jpeg(photo('cat_720p.jpg', 16, 16))
    comments = b'\xff\xfe\x00\x02' * MAX_JPEG_SEGMENTS
    with pytest.raises(ImageTooLargeError, match=f'{MAX_JPEG_SEGMENTS} marker segments'):
        decode(data[:2] + comments + data[2:])
    assert decode(data[:2] + comments[:400] + data[2:]).image.shape == (16, 16, 3)
    text = png_chunk(b'tEXt', b'k\x00v')
    small = photo('hot_dog.jpg', 4, 2)[..., ::-1]
    with pytest.raises(ImageTooLargeError, match=f'{MAX_PNG_CHUNKS} chunks'):
        decode(png(small, 2, 8, extra=text * MAX_PNG_CHUNKS))
    assert decode(png(small, 2, 8, extra=text * 1000)).image.shape == (2, 4, 3)


# --- a fresh process: nothing on stderr, no memory for bombs ------------------------------------

CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from mobilenetv1_ros.core.compressed import decode
    from mobilenetv1_ros.core.errors import ImageError

    def status(key):
        for line in Path('/proc/self/status').read_text().splitlines():
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024

    files = sorted(Path(sys.argv[1]).iterdir())
    blobs = {path.name: path.read_bytes() for path in files}
    report = {'outcomes': {}}
    for stage in ('bomb', 'broken', 'control'):
        Path('/proc/self/clear_refs').write_text('5')  # peak RSS := current RSS
        before = status('VmRSS')
        for name, data in blobs.items():
            if name.startswith(stage):
                for min_size in (None, (256, 256)):
                    try:
                        decoded = decode(data, min_size=min_size)
                        outcome = 'decoded %dx%d' % decoded.image.shape[1::-1]
                    except ImageError as error:
                        outcome = type(error).__name__
                    report['outcomes'][f'{name} {min_size}'] = outcome
        report[stage] = status('VmHWM') - before
    print(json.dumps(report))
""")


@needs_simplejpeg
def test_hostile_frames_print_nothing_and_allocate_nothing(tmp_path: Path) -> None:
    small = jpeg(photo('cat_720p.jpg', 16, 16))
    hostile = {
        'bomb_jpeg': with_jpeg_size(small, 32000, 32000)[:-40],
        'bomb_png': png_bomb(32000),
        'bomb_png_40000': png_bomb(40000),
        'broken_grey_jpeg': with_jpeg_size(small, 640, 480),
        'broken_cut_jpeg': jpeg(photo('cat_720p.jpg'))[:60_000],
        'broken_cut_png': cv2.imencode('.png', photo('cat_720p.jpg', 320, 240))[1][:50_000],
    }
    for name, data in hostile.items():
        (tmp_path / name).write_bytes(bytes(data))
    (tmp_path / 'control_4k').write_bytes(jpeg(photo('cat_1080p.jpg', 4096, 2160), 70))
    child = subprocess.run([sys.executable, '-c', CHILD, str(tmp_path)], capture_output=True,
                           timeout=120, check=True)
    assert child.stderr == b''
    report = json.loads(child.stdout)
    outcomes = report['outcomes']
    for min_size in ('None', '(256, 256)'):
        for name in ('bomb_jpeg', 'bomb_png', 'bomb_png_40000'):
            assert outcomes[f'{name} {min_size}'] == 'ImageTooLargeError'
        for name in ('broken_grey_jpeg', 'broken_cut_jpeg', 'broken_cut_png'):
            assert outcomes[f'{name} {min_size}'] == 'ImageDecodeError'
    assert outcomes['control_4k None'] == 'decoded 4096x2160'
    assert outcomes['control_4k (256, 256)'] == 'decoded 512x270'
    assert report['bomb'] < 2**20, report
    assert report['control'] > 4096 * 2160 * 3 // 2, report  # it does see a real decode


# --- property-based fuzzing ---------------------------------------------------------------------

@st.composite
def png_cases(draw: st.DrawFn) -> tuple[bytes, np.ndarray]:
    """A valid PNG of any colour type, depth and interlacing, with the BGR it must decode to."""
    color = draw(st.sampled_from(sorted(PNG_DEPTHS)))
    depth = draw(st.sampled_from(PNG_DEPTHS[color]))
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if color == 3:
        entries = draw(st.integers(1, 1 << depth))
        colours = rng.integers(0, 256, (entries, 3))
        samples = rng.integers(0, entries, (height, width, 1))
        expected = colours[samples[..., 0]][..., ::-1]
        data = png(samples, 3, depth, interlaced=draw(st.booleans()),
                   palette=colours.astype(np.uint8).tobytes())
        return data, expected.astype(np.uint8)
    samples = rng.integers(0, 1 << depth, (height, width, PNG_CHANNELS[color]))
    data = png(samples, color, depth, interlaced=draw(st.booleans()))
    eight = samples >> 8 if depth == 16 else samples * (255 // ((1 << depth) - 1))
    colour = eight[..., :3] if color in (2, 6) else np.repeat(eight[..., :1], 3, axis=2)
    return data, colour[..., ::-1].astype(np.uint8)


@fuzz
@given(png_cases(), st.data())
def test_fuzzed_png_decodes_exactly_or_is_rejected_quietly(case: tuple[bytes, np.ndarray],
                                                           data: st.DataObject) -> None:
    encoded, expected = case
    mutation = data.draw(st.sampled_from(['none', 'truncate', 'flip', 'resize']))
    with stderr_of() as captured:
        if mutation == 'none':
            assert np.array_equal(decode(encoded).image, expected)
        elif mutation == 'truncate':
            with pytest.raises(ImageDecodeError):
                decode(encoded[:data.draw(st.integers(0, len(encoded) - 1))])
        elif mutation == 'flip':
            broken = bytearray(encoded)
            broken[data.draw(st.integers(0, len(encoded) - 1))] ^= data.draw(st.integers(1, 255))
            with pytest.raises(ImageDecodeError):
                decode(bytes(broken))
        else:
            width, height = data.draw(st.integers(1, 64)), data.draw(st.integers(1, 64))
            resized = encoded[:8] + png_chunk(b'IHDR', struct.pack('>II', width, height)
                                              + encoded[24:29]) + encoded[33:]
            try:
                image = decode(resized).image
            except ImageDecodeError:
                pass
            else:
                assert image.shape == (height, width, 3)
    assert captured.text == b''


@st.composite
def jpeg_cases(draw: st.DrawFn) -> tuple[bytes, tuple[int, int]]:
    """A JPEG of a real photo's crop, any subsampling or progressive; with its MCU size."""
    import simplejpeg

    name = draw(st.sampled_from(JPEG_PHOTOS))
    width, height = draw(st.integers(1, 96)), draw(st.integers(1, 96))
    source = photo(name, 128, 128)
    x, y = draw(st.integers(0, 128 - width)), draw(st.integers(0, 128 - height))
    crop = np.ascontiguousarray(source[y:y + height, x:x + width])
    quality = draw(st.integers(20, 100))
    subsampling = draw(st.sampled_from([*SUBSAMPLING_MCU, 'progressive']))
    if subsampling == 'progressive':
        return jpeg(crop, quality, progressive=True), SUBSAMPLING_MCU['420']
    data = simplejpeg.encode_jpeg(crop, quality, 'BGR', subsampling)
    return data, SUBSAMPLING_MCU[subsampling]


@needs_simplejpeg
@fuzz
@given(jpeg_cases(), st.data())
def test_fuzzed_jpeg_is_never_a_filled_in_frame(case: tuple[bytes, tuple[int, int]],
                                                data: st.DataObject) -> None:
    encoded, (mcu_w, mcu_h) = case
    header = read_header(encoded)
    min_size = (data.draw(st.integers(0, header.width)), data.draw(st.integers(0, header.height)))
    mutation = data.draw(st.sampled_from(['none', 'truncate', 'flip', 'resize']))
    with stderr_of() as captured:
        if mutation == 'none':
            decoded = decode(encoded, min_size=min_size)
            assert decoded.image.shape[1] >= min_size[0]
            assert decoded.image.shape[0] >= min_size[1]
            if decoded.reduction == 1:
                assert np.abs(decoded.image.astype(int) - cv2_decode(encoded)).max() <= 2
        elif mutation == 'truncate':
            with pytest.raises(ImageDecodeError):
                decode(encoded[:data.draw(st.integers(0, len(encoded) - 1))], min_size=min_size)
        elif mutation == 'flip':
            broken = bytearray(encoded)
            broken[data.draw(st.integers(0, len(encoded) - 1))] ^= data.draw(st.integers(1, 255))
            try:
                decode(bytes(broken), min_size=min_size)
            except (ImageDecodeError, ImageTooLargeError):
                pass
        else:
            width, height = data.draw(st.integers(1, 4096)), data.draw(st.integers(1, 4096))
            mcus = -(-width // mcu_w) * -(-height // mcu_h)
            encoded_mcus = -(-header.width // mcu_w) * -(-header.height // mcu_h)
            resized = with_jpeg_size(encoded, width, height)
            if width * height > 1 << 22:
                with pytest.raises(ImageTooLargeError, match=f'{width}x{height}'):
                    decode(resized, min_size=(64, 64), max_pixels=1 << 22)
            elif mcus > encoded_mcus:  # more blocks than the data holds: never filled in grey
                with pytest.raises(ImageDecodeError):
                    decode(resized, min_size=(64, 64), max_pixels=1 << 22)
            else:
                try:
                    decode(resized, min_size=(64, 64), max_pixels=1 << 22)
                except ImageDecodeError:
                    pass
    assert captured.text == b''


@fuzz
@given(st.sampled_from(['jpeg', 'png']), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
       st.integers(1, 2**24))
def test_fuzzed_declared_sizes_are_checked_before_any_allocation(kind: str, width: int,
                                                                 height: int,
                                                                 cap: int) -> None:
    if kind == 'jpeg':
        width, height = width % 65536, height % 65536
        data = with_jpeg_size(jpeg(photo('hot_dog.jpg', 16, 16)), width, height)
    else:
        width, height = width % 2**31, height % 2**31
        data = png(photo('hot_dog.jpg', 4, 2)[..., ::-1], 2, 8)
        data = data[:8] + ihdr(width, height) + data[33:]
    too_large = width > MAX_SIDE or height > MAX_SIDE or width * height > cap
    tracemalloc.start()
    try:
        with stderr_of() as captured:
            if width == 0 or height == 0:
                with pytest.raises(ImageDecodeError, match=f'empty size {width}x{height}'):
                    decode(data, max_pixels=cap)
            elif too_large:
                with pytest.raises(ImageTooLargeError, match=f'{width}x{height}'):
                    decode(data, max_pixels=cap)
            elif kind == 'png' and (width, height) != (4, 2):
                with pytest.raises(ImageDecodeError):
                    decode(data, max_pixels=cap)
            elif kind == 'png' or compressed.JPEG_DECODER == 'simplejpeg':
                if kind == 'jpeg' and (width > 16 or height > 16):  # more blocks than encoded
                    with pytest.raises(ImageDecodeError):
                        decode(data, min_size=(1, 1), max_pixels=cap)
                else:
                    decoded = decode(data, min_size=(1, 1), max_pixels=cap)
                    assert decoded.header == compressed.ImageHeader(kind, width, height)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert captured.text == b''
    if too_large:
        assert peak < 1_000_000
