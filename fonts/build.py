#!/usr/bin/env python3
"""Rebuilds fonts/ from Debian's font packages (fonts-noto-core, fonts-noto-cjk).

Usage: pip install fonttools && python3 fonts/build.py
The Noto Sans faces for Latin/Greek/Cyrillic, Arabic, Hebrew, Devanagari and Thai are copied
whole; Noto Sans CJK (about 20 MB per weight) is subset to the character set described in
fonts/README.md so that fonts/ stays well under 20 MiB.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = "/usr/share/fonts/truetype/noto"
CJK = "/usr/share/fonts/opentype/noto"
COPIED = [
    f"NotoSans{script}-{weight}.ttf"
    for script in ["", "Arabic", "Hebrew", "Devanagari", "Thai"]
    for weight in ["Regular", "Bold"]
]
CJK_SC_INDEX = 2  # Noto Sans CJK SC inside the .ttc collection


def encodable(ch, codec, lo, hi):
    """True when `ch` encodes in `codec` to a two-byte sequence whose lead byte is in lo..=hi."""
    try:
        b = ch.encode(codec)
    except UnicodeEncodeError:
        return False
    return len(b) == 2 and lo <= b[0] <= hi


def cjk_charset():
    chars = set()
    for cp in range(0x4E00, 0xA000):
        ch = chr(cp)
        if (
            encodable(ch, "gb2312", 0xB0, 0xD7)  # GB 2312 level 1: 3,755 common Hanzi
            or encodable(ch, "big5", 0xA4, 0xC6)  # Big5 frequently used: 5,401 Hanzi
            or encodable(ch, "euc_jp", 0xB0, 0xCF)  # JIS X 0208 level 1: 2,965 Kanji
        ):
            chars.add(cp)
    chars.update(range(0xAC00, 0xD7A4))  # every Hangul syllable (11,172)
    chars.update(range(0x3131, 0x318F))  # Hangul compatibility jamo
    chars.update(range(0x3041, 0x3100))  # Hiragana and Katakana
    chars.update(range(0x3005, 0x3008))  # 々 〆 〇
    return sorted(chars)


def main():
    for name in COPIED:
        shutil.copyfile(os.path.join(CORE, name), os.path.join(HERE, name))
    charset = cjk_charset()
    with open(os.path.join(HERE, "cjk-charset.txt"), "w", encoding="utf-8") as f:
        f.write("".join(chr(c) for c in charset) + "\n")
    for weight in ["Regular", "Bold"]:
        subprocess.run(
            [
                "pyftsubset",
                os.path.join(CJK, f"NotoSansCJK-{weight}.ttc"),
                f"--font-number={CJK_SC_INDEX}",
                "--unicodes=" + ",".join(f"{c:04X}" for c in charset),
                "--no-hinting",
                "--desubroutinize",
                "--layout-features=",
                "--name-IDs=*",
                f"--output-file={os.path.join(HERE, f'NotoSansCJKsc-{weight}-subset.otf')}",
            ],
            check=True,
        )
    shutil.copyfile("/usr/share/doc/fonts-noto-core/copyright", os.path.join(HERE, "LICENSE-noto-core.txt"))
    shutil.copyfile("/usr/share/doc/fonts-noto-cjk/copyright", os.path.join(HERE, "LICENSE-noto-cjk.txt"))
    print(f"CJK subset: {len(charset)} characters", file=sys.stderr)


if __name__ == "__main__":
    main()
