"""The plain files the `aam` command reads: a BIOM table, FASTA sequences
and TSV sample metadata, as QIIME 2 exports them (distance matrices:
distances.py, which reads them lazily)."""
from __future__ import annotations

import collections
import io
from pathlib import Path

from ..errors import AAMInputError


def existing(path: str, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise AAMInputError(f"{what} {path} does not exist.")
    return path


def packed(path: Path) -> str:
    """What a binary file is, where its first bytes say so: a gzip or a zip
    (a .qza) read as text failed on byte 1 with Python's codec words, not
    the user's ('utf-8' codec can't decode byte 0x8b)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head[:2] == b"\x1f\x8b":
        return "is gzip-compressed: decompress it first (gunzip)"
    if head == b"PK\x03\x04":
        return ("is a zip archive (a QIIME 2 .qza is one): `qiime tools export` it and "
                "give the file that writes")
    return ""


def read_by_id(path: str | Path, what: str, holds: str):
    """A TSV with ids in its first column, values kept as text (so callers
    can name the ones they cannot read); the '#q2:types' row of QIIME 2's
    metadata files is dropped. `what` names the file, `holds` its columns."""
    import pandas as pd
    path = Path(path)
    if not path.is_file():
        raise AAMInputError(f"No {what} file at {path}.")
    try:
        lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines()
                 if line.strip()]
    except UnicodeDecodeError as error:
        if problem := packed(path):
            raise AAMInputError(f"The {what} file {path} {problem}.") from error
        raise AAMInputError(f"The {what} file {path} is not UTF-8 text (byte "
                            f"{error.start} cannot be read); save it as UTF-8.") from error
    refuse_fasta(lines[0] if lines else "", f"The {what} file {path}", holds)
    while lines and _cells(lines[0])[0].startswith("#") and not is_id_header(
            _cells(lines[0])[0]):
        lines.pop(0)  # comments before the header ('#SampleID' is a header)
    if not lines:
        raise AAMInputError(f"The {what} file {path} is empty; give a tab-separated "
                            f"table of {holds}.")
    frame = as_qiime2_reads(cell_table(lines[0], lines[1:], path, f"The {what} file"))
    frame = frame.set_index(frame.columns[0])
    frame = frame[~frame.index.astype(str).str.startswith("#")]
    repeated = frame.index[frame.index.duplicated()].unique()
    if len(repeated):  # which row would win is no choice to make silently
        raise AAMInputError(f"The {what} {path} has repeated ids ({list(repeated[:5])} on "
                            "more than one row); ids must be unique. Remove or merge the "
                            "repeated rows.")
    return frame


def refuse_fasta(first_line: str, what: str, holds: str) -> None:
    """A FASTA given where a table belongs was read as a table of one
    column and failed for a reason far from the cause ('0 value columns',
    'the row ids do not match')."""
    if first_line.startswith(">"):
        raise AAMInputError(f"{what} is a FASTA file, not a table of {holds}: give the "
                            "sequences with --sequences, and here the table it asks for.")


def as_qiime2_reads(frame):
    """The cells of a TSV read as text (na_filter off) as QIIME 2's metadata
    reader takes them: the spaces around every cell and column name
    stripped, and only the cells then empty missing. pandas' default would
    read 'NA', 'None', 'null'... as missing too, so a class 'NA' (North
    America) or a group named 'None' would silently be no value at all."""
    frame = frame.apply(lambda column: column.str.strip())
    frame.columns = [str(name).strip() for name in frame.columns]
    return frame.mask(frame == "")


_BIOM_HELP = ("give the HDF5 BIOM file `qiime tools export` writes (feature-table.biom), "
              "or a TSV BIOM: a '#OTU ID' header line, then one line of numeric counts "
              "per feature")


def read_table(path: str, option: str = "--table"):
    import biom
    import h5py
    path = existing(path, option)
    if path.is_dir():
        raise AAMInputError(f"{option} {path} is a directory; {_BIOM_HELP}.")
    if not h5py.is_hdf5(path) and not _starts_with(path, b"{"):  # BIOM 1 is JSON
        # biom reads any text as a TSV table, e.g. a first line as sample ids
        _check_tsv_table(path, option)
    try:
        if _has_bom(path):  # an editor's UTF-8 mark, which biom reads as text
            from biom.parse import parse_biom_table
            return parse_biom_table(io.StringIO(path.read_text(encoding="utf-8-sig")))
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as handle:
                try:
                    return biom.Table.from_hdf5(handle)
                except UnicodeDecodeError:
                    return _utf8_table(handle)
        return biom.load_table(str(path))
    except Exception as error:  # biom raises many types for unreadable files
        raise AAMInputError(f"{option} {path} is not a readable BIOM table: "
                            f"{error}") from error


def _utf8_table(handle):
    """The counts and ids of a BIOM 2 (HDF5) table whose ids hold characters
    beyond ASCII ('Zoë-1'): biom-format writes them as UTF-8 but reads its
    ids as ASCII (UnicodeDecodeError); the observation metadata, which
    nothing here reads, is left out."""
    import biom
    from scipy.sparse import csr_matrix
    ids = {axis: [i.decode("utf-8") if isinstance(i, bytes) else str(i)
                  for i in handle[f"{axis}/ids"][:]] for axis in ("observation", "sample")}
    matrix = handle["observation/matrix"]
    counts = csr_matrix((matrix["data"][:], matrix["indices"][:], matrix["indptr"][:]),
                        shape=(len(ids["observation"]), len(ids["sample"])))
    return biom.Table(counts, ids["observation"], ids["sample"])


_BOM = "\ufeff".encode()


def _starts_with(path: Path, prefix: bytes) -> bool:
    """Whether the text starts with `prefix`, after a byte-order mark and spaces."""
    with open(path, "rb") as handle:
        return handle.read(4096).removeprefix(_BOM).lstrip().startswith(prefix)


def _has_bom(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(_BOM)) == _BOM


def _check_tsv_table(path: Path, option: str) -> None:
    """The layout biom's TSV reader expects: comment lines, the last of them
    the header ('#OTU ID', sample ids[, taxonomy]), then numeric counts."""
    header, features, problem = None, [], None
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, 1):
                fields = line.rstrip("\r\n").split("\t")
                if line.startswith("#") and not features:
                    header = fields
                elif line.strip():
                    features.append(fields[0])
                    problem = _tsv_row_problem(header, fields, number)
                    if problem:
                        break
    except UnicodeDecodeError:
        problem = f"it {packed(path) or 'is neither HDF5 nor text'}"
    problem = problem or (header and _tsv_ids_problem(header, features))
    if problem or header is None:
        raise AAMInputError(f"{option} {path} is not a BIOM table: "
                            f"{problem or 'it holds no header line'}; {_BIOM_HELP}.")


def _tsv_ids_problem(header: list, features: list) -> str | None:
    """No feature line, or an id given twice (biom says only 'Duplicate')."""
    if not features:
        return "it holds a header line and no line of feature counts"
    samples = header[1:_counts_end(header)]
    for ids, what in ((samples, "sample"), (features, "feature")):
        twice = [i for i, n in collections.Counter(ids).items() if n > 1]
        if twice:
            return (f"it names {len(twice)} {what}(s) more than once, e.g. "
                    f"{', '.join(map(repr, twice[:3]))}: give each {what} one "
                    f"{'column' if what == 'sample' else 'line'}")
    return None


def _tsv_row_problem(header, fields: list, number: int) -> str | None:
    if header is None or len(header) < 2:
        return "its first lines hold no '#OTU ID' header with sample ids"
    counts = fields[1:_counts_end(header)]
    if len(fields) != len(header):
        return (f"line {number} has {len(fields)} fields, the header "
                f"{len(header)}")
    for value in counts:
        try:
            float(value)
        except ValueError:
            return f"line {number} holds {value!r} where a count belongs"
    return None


def _counts_end(header: list) -> int:
    """Where a line's counts end: a last header column other than a sample
    (e.g. taxonomy) holds text."""
    return len(header) - (header[-1].lower() in _ROW_METADATA)


_ROW_METADATA = ("taxonomy", "confidence")


def read_fasta(path: str) -> dict:
    """Feature id -> sequence (ids end at the first space; lines are joined)."""
    sequences, name, parts = {}, None, []
    if existing(path, "The sequences file").is_dir():
        raise AAMInputError(f"The sequences file {path} is a directory; give the FASTA "
                            "file of the features' DNA sequences.")
    if problem := packed(Path(path)):
        raise AAMInputError(f"The sequences file {path} {problem}.")
    try:
        name = _fasta_records(path, sequences, parts)
    except UnicodeDecodeError as error:
        raise AAMInputError(f"The sequences file {path} is not FASTA text (byte "
                            f"{error.start} is not UTF-8).") from error
    if name is not None:
        sequences[name] = "".join(parts)
    if not sequences:
        raise AAMInputError(f"{path} holds no FASTA records.")
    return sequences


def _fasta_records(path, sequences: dict, parts: list):
    """Fill `sequences` with all records but the last, whose id it returns
    (its lines left in `parts`)."""
    name = None
    with open(path, encoding="utf-8-sig") as handle:  # an editor's BOM is no text
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    sequences[name] = "".join(parts)
                header = line[1:].split()
                name = header[0] if header else ""
                parts.clear()
                new_fasta_id(name, sequences, path)
            elif line:
                if name is None:
                    raise AAMInputError(f"{path} is not FASTA: sequence before any '>' line.")
                parts.append(line)
    return name


def read_metadata(path: str):
    """Sample metadata TSV as QIIME 2 reads it: comment and empty lines
    skipped, the first other line the header (first column the sample id),
    a '#q2:types' directive right after it; values as text, stripped, and
    only empty cells missing (as_qiime2_reads)."""
    frame = _read_tsv(path, "--metadata")
    _check_id_header(frame.columns[0], path)
    _check_ids(frame, path)
    types = frame.attrs["q2:types"]
    frame = frame.set_index(frame.columns[0])
    frame.index = frame.index.astype(str)
    frame.attrs["q2:types"] = types  # the declared types decide numeric or categorical
    _numbers_where_declared(frame, path)
    repeated = frame.index[frame.index.duplicated()].unique()
    if len(repeated):
        raise AAMInputError(f"{path} holds the sample id(s) {list(repeated[:5])} on more "
                            "than one row; sample ids must be unique. Remove or merge "
                            "the repeated rows.")
    return frame


# the id column headers QIIME 2 metadata accepts (qiime2.metadata.base)
ID_HEADERS = ("id", "sampleid", "sample id", "sample-id", "featureid", "feature id",
              "feature-id")  # in any letter case
EXACT_ID_HEADERS = ("#SampleID", "#Sample ID", "#OTUID", "#OTU ID", "sample_name")


def is_id_header(name: str) -> bool:
    """As qiime2.metadata.base.is_id_header."""
    return bool(name) and (name.lower() in ID_HEADERS or name in EXACT_ID_HEADERS)


def _check_ids(frame, path) -> None:
    """No empty sample id, and no column name or sample id that QIIME 2
    reserves for the id header (a header line again, as in files joined
    one after another), as QIIME 2 refuses them."""
    ids = frame[frame.columns[0]]
    if ids.isna().any():
        after = ids[:ids.isna().idxmax()].dropna()
        raise AAMInputError(f"--metadata {path} has a row without a sample id (its first "
                            "cell is empty" + (f", after {after.iloc[-1]!r}" if len(after)
                                               else "") + "); give it its id, or remove it.")
    for what, names in (("a column", frame.columns[1:]), ("a sample", ids)):
        reserved = [name for name in names if is_id_header(name)]
        if reserved:
            raise AAMInputError(
                f"--metadata {path} has {what} named {reserved[0]!r}, a name QIIME 2 "
                "reserves for the sample id header (QIIME 2 refuses the file)"
                + ("; rename the column." if what == "a column" else
                   "; if it is a second header line, remove it."))


def _check_id_header(name: str, path) -> None:
    """The first column is the sample id only under a header QIIME 2 reads
    as one; any other header is a sign the file is not metadata (or its id
    column is missing), and `qiime` would refuse it."""
    if is_id_header(name):
        return
    headed = "has no header" if not name else f"is headed {name!r}"
    raise AAMInputError(
        f"--metadata {path}: the first column {headed}, which QIIME 2 does not "
        f"read as the sample id column (it reads {', '.join(ID_HEADERS[:4])} or "
        f"{', '.join(EXACT_ID_HEADERS)}, ...); put the sample ids first under the "
        "header 'sample-id'.")


def as_numbers(column):
    """(the column as numbers, its values that are not numbers; missing
    cells are neither)."""
    import pandas as pd
    values = pd.to_numeric(column, errors="coerce")
    return values, column[values.isna() & column.notna()]


def _numbers_where_declared(frame, path) -> None:
    """A column the '#q2:types' row declares numeric holds numbers (or
    empty cells), or the file is refused, as QIIME 2 refuses it."""
    for column, declared in frame.attrs["q2:types"].items():
        if declared != "numeric":
            continue
        _, text = as_numbers(frame[column])
        if len(text):
            raise AAMInputError(
                f"{path}: the column {column!r} is declared numeric (its '#q2:types' "
                f"row) but holds {text.iloc[0]!r} (sample {text.index[0]!r}); QIIME 2 "
                "refuses such a file: declare it categorical, or fix the value.")


def _read_tsv(path: str, option: str):
    """The file as text columns, its '#q2:types' in attrs["q2:types"]; a
    directory, an empty file, a file that is not UTF-8, not tab-separated
    or not a table: one line naming `option`."""
    path = existing(path, option)
    if path.is_dir():
        raise AAMInputError(f"{option} {path} is a directory; give the metadata TSV file.")
    header, types, rows = _metadata_lines(_utf8_text(path, option), path, option)
    if header is None:
        raise AAMInputError(f"{option} {path} is empty; give the metadata TSV file "
                            "(a header line of column names, then one line per "
                            "sample).")
    frame = cell_table(header, rows, path, option)
    names = list(frame.columns)
    _unique_names(names, frame, path, option)
    frame = as_qiime2_reads(frame)
    frame.attrs["q2:types"] = _declared_types(types, names, path)
    return frame


def cell_table(header: str, lines: list, path, option: str):
    """The lines as a frame of text cells, read as QIIME 2 reads metadata:
    the empty cells that end the header dropped, shorter rows padded with
    empty cells, and a row longer than the header refused unless its extra
    cells are empty (e.g. a tab at the end of every line). pandas would
    take the rows' first cells as an index, and shift every column."""
    import pandas as pd
    names = _cells(header)
    while len(names) > 1 and not names[-1]:
        names.pop()
    if "" in names[1:]:
        raise AAMInputError(f"{option} {path}: its header line has a column without a "
                            f"name (column {names.index('', 1) + 1}); every column needs "
                            "a name (as QIIME 2 requires): name it, or remove it.")
    rows = [_fitted(_cells(line), len(names), path, option) for line in lines]
    return pd.DataFrame(rows, columns=names, dtype=str)


def _fitted(cells: list, width: int, path, option: str) -> list:
    if any(cells[width:]):
        raise AAMInputError(f"{option} {path}: the row of {cells[0]!r} has {len(cells)} "
                            f"cells, the header {width} ({cells[width:]!r} beyond it); "
                            "give every row the header's columns, or name the extra "
                            "column in the header.")
    return (cells + [""] * width)[:width]


def _utf8_text(path: Path, option: str) -> str:
    """The file's text; QIIME 2 reads UTF-8 metadata only (a byte-order
    mark allowed)."""
    data = path.read_bytes()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise AAMInputError(f"{option} {path} is UTF-16 text (as spreadsheets save "
                            "'Unicode text'); QIIME 2 metadata is UTF-8: save it as "
                            "UTF-8 tab-separated text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if problem := packed(path):
            raise AAMInputError(f"{option} {path} {problem}.") from error
        raise AAMInputError(f"{option} {path} is not UTF-8 text (byte {error.start} "
                            "cannot be read); QIIME 2 metadata is UTF-8: save it as "
                            "UTF-8.") from error


# id headers that begin with '#' (QIIME 1 mapping files): a header, not a comment
_HASH_ID_HEADERS = ("#sampleid", "#sample id", "#otuid", "#otu id")


def _metadata_lines(text: str, path, option: str) -> tuple:
    """(header line, '#q2:types' line or None, data lines), as QIIME 2 reads
    them: empty lines and comments ('#' lines) anywhere are skipped, and a
    '#q2:' directive belongs right after the header."""
    header, types, rows = None, None, []
    for line in text.splitlines():
        if not line.strip():
            continue
        first = _cells(line)[0]  # '"#q2:types"', as R's write.table quotes it, too
        if first.startswith("#q2:"):
            if first.lower() != "#q2:types":
                raise AAMInputError(f"{option} {path} has the directive {first!r}, which "
                                    "the aam command does not read (it knows '#q2:types'); "
                                    "remove that line.")
            if header is None or rows or types is not None:
                raise AAMInputError(f"{option} {path}: the '#q2:types' line must come once, "
                                    "right after the header line (as QIIME 2 requires); "
                                    "move it there.")
            types = line
        elif header is None and first.lower() in _HASH_ID_HEADERS:
            header = line
        elif first.startswith("#") and not (header and is_id_header(first)):
            continue  # a comment
        elif header is None:
            header = line
        else:
            rows.append(line)
    return header, types, rows


_TYPES = ("categorical", "numeric")


def _cells(line: str) -> list:
    """A line's cells as QIIME 2's reader (and pandas) takes them: tab
    separated, quotes around a cell removed ('"study"' is the column
    study), the spaces around it stripped."""
    import csv
    return [cell.strip() for cell in next(csv.reader([line], dialect="excel-tab"))]


def _declared_types(line, names: list, path) -> dict:
    """{column: 'categorical' or 'numeric'} from the '#q2:types' line; a
    word QIIME 2 does not know is refused, as QIIME 2 refuses it."""
    if line is None:
        return {}
    cells = _cells(line)
    declared = {}
    for name, word in zip(names[1:], cells[1:]):
        if word and word.lower() not in _TYPES:
            raise AAMInputError(f"{path}: the column {name!r} has the type {word!r} in its "
                                "'#q2:types' line; QIIME 2 knows 'categorical' and "
                                "'numeric' (any case): correct it, or leave the cell empty.")
        if word:
            declared[name] = word.lower()
    return declared


def _unique_names(names: list, frame, path, option: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:  # pandas renames a repeat 'age.1'
        raise AAMInputError(f"{option} {path} has the column name(s) {repeated} more than "
                            "once; column names must be unique (as QIIME 2 requires). "
                            "Rename or remove the repeated columns.")
    if len(frame.columns) == 1 and "," in frame.columns[0]:
        raise AAMInputError(f"{option} {path} is not tab-separated: its header line has "
                            "commas and no tab. QIIME 2 metadata is TSV; save the file "
                            "with tabs between the columns.")


def new_fasta_id(name: str, sequences: dict, path) -> None:
    """A FASTA id must be given and be new: with repeats, which one is meant?"""
    if not name:
        raise AAMInputError(f"{path} has a '>' line without an id.")
    if name in sequences:
        raise AAMInputError(f"{path} holds the id {name!r} more than once; FASTA "
                            "ids must be unique. Remove the repeated records.")
