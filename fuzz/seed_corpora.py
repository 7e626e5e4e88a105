#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from tests/fixtures and configs/.

Run from the repository root: python3 fuzz/seed_corpora.py. Inputs follow each target's layout (fuzz/*.cpp):
a flag byte first where the target has one, parts separated by SEP.
"""
import csv
import io
import json
import os
import shutil
import struct
import zipfile
from pathlib import Path

SEP = b"\n@@@@\n"
FIX = Path("tests/fixtures")
OUT = Path("fuzz/corpus")


def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def pickle_str(s):
    return b"X" + struct.pack("<I", len(s)) + s


def state_dict_pickle(storage_global=b"ctorch\nFloatStorage\n"):
    # As tests/tensor_io_test.cpp: {"w": 2 elements of storage "0", "t": a view of it at offset 1}.
    rebuild = b"ctorch._utils\n_rebuild_tensor_v2\n"
    storage = b"((" + pickle_str(b"storage") + storage_global + pickle_str(b"0") + pickle_str(b"cpu") + b"K\x02tQq\x01"
    return (b"\x80\x02ccollections\nOrderedDict\n)R(" + pickle_str(b"w") + rebuild + storage +
            b"K\x00K\x02\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR" + pickle_str(b"t") + rebuild +
            b"(h\x01K\x01K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRu.")


def torch_zip(pickle, storage, prefix="archive"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", pickle)
        z.writestr(f"{prefix}/byteorder", b"little")
        z.writestr(f"{prefix}/data/0", storage)
    return buf.getvalue()


def main():
    shutil.rmtree(OUT, ignore_errors=True)

    # Weights.
    f32 = struct.pack("<2f", 1.5, -2.0)
    put("safetensors", "one_f32", safetensors({"w": ("F32", [2], f32)}, {"format": "pt"}))
    put("safetensors", "dtypes", safetensors({
        "a": ("F16", [2], b"\x00\x3c\x00\xc0"), "b": ("BF16", [1, 2], b"\x80\x3f\x00\xc0"),
        "c": ("I64", [1], struct.pack("<q", -3)), "d": ("BOOL", [3], b"\x00\x01\x01"),
        "e": ("U8", [2], b"\x07\x08"), "f": ("F64", [], struct.pack("<d", 0.25)), "g": ("I32", [0], b"")}))
    put("safetensors", "no_metadata", safetensors({"x.weight": ("F32", [2, 1], f32), "x.bias": ("F32", [1], f32[:4])}))
    pickle = state_dict_pickle()
    put("pytorch_bin", "state_dict", torch_zip(pickle, f32))
    put("pytorch_bin", "long_storage", torch_zip(state_dict_pickle(b"ctorch\nLongStorage\n"), struct.pack("<2q", 5, -3)))
    put("pytorch_bin", "half_storage", torch_zip(state_dict_pickle(b"ctorch\nHalfStorage\n"), b"\x00\x3c\x00\xc0", "model"))
    put("pickle", "state_dict", pickle)
    put("pickle", "bool_storage", state_dict_pickle(b"ctorch\nBoolStorage\n"))
    for model in ("base", "tokcls"):  # real torch.save pickles (the storages are not needed by the target)
        with zipfile.ZipFile(FIX / "models" / model / "pytorch_model.bin") as z:
            name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            put("pickle", f"{model}_data_pkl", z.read(name))

    # config.json.
    for config in sorted(FIX.glob("models/*/config.json")) + [FIX / "hub/config.json"]:
        put("config_json", config.parent.name, config.read_bytes())

    # Tokenizer: flags, vocab.txt [SEP tokenizer_config.json] SEP text.
    vocab = (FIX / "tokenizer/vocab.txt").read_bytes().split(b"\n")
    small_vocab = b"\n".join(vocab[:120] + [v for v in vocab if v.startswith(b"##")][:40])
    cases = json.loads((FIX / "tokenizer/tokenizer_cases.json").read_text())
    texts = []
    def collect(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("text", "text_pair") and isinstance(v, str):
                    texts.append(v)
                else:
                    collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)
    collect(cases)
    picked = [t for t in texts if 0 < len(t.encode()) < 200][:12]
    hub_vocab = (FIX / "hub/vocab.txt").read_bytes()
    hub_config = (FIX / "hub/tokenizer_config.json").read_bytes()
    for i, text in enumerate(picked):
        flags = bytes([(i * 37) & 0xFF])
        put("tokenizer", f"case{i:02d}", flags + small_vocab + SEP + text.encode())
    put("tokenizer", "hub_pair", b"\x8a" + hub_vocab + SEP + hub_config + SEP + b"hello world\t[CLS] wor ##ld")
    put("tokenizer", "uncased_config", b"\x41" + small_vocab + SEP + b'{"do_lower_case": false, "strip_accents": true, '
        b'"model_max_length": 1000000000000000019884624838656}' + SEP + "Héllo 世界 [MASK]!".encode())

    # Experiment YAML: flags, exp.yaml SEP base.yaml [SEP other.yaml [SEP --set lines]].
    base = Path("configs/base.yaml").read_bytes()
    for task in ("korean/nsmc", "korean/korquad", "glue/mrpc"):
        exp = Path(f"configs/{task}.yaml").read_bytes().replace(b"base: ../base.yaml", b"base: base.yaml")
        put("experiment_yaml", task.replace("/", "_"), b"\x00" + exp + SEP + base)
    put("experiment_yaml", "chain_and_sets", b"\x00base: base.yaml\ntask: cola\n" + SEP + b"base: other.yaml\nseeds: [1, 2]\n" +
        SEP + b"model: m\ndata:\n  dev_from_train: 0.1\n" + SEP + b"optimizer.learning_rate=3e-5\ntrain.max_steps=7")

    # Task readers: flags (task index in the target's list) + the file.
    def tasks(target, names, files):
        for index, task in enumerate(names):
            for f in sorted((FIX / "tasks" / task).glob(files)):
                put(target, f"{task}_{f.stem}", bytes([index]) + f.read_bytes())
    tasks("task_tsv", ["nsmc", "paws", "kornli", "korsts", "question-pair", "hate-speech"], "*.t*")
    for f in sorted((FIX / "tasks/hate-speech/kocohub").glob("*.tsv")):
        put("task_tsv", f"kocohub_{f.stem}", bytes([5]) + f.read_bytes())
    tasks("task_glue", ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte"], "*.tsv")
    tasks("task_ner", ["naver-ner"], "*.tsv")
    tasks("task_qa", ["korquad", "squad"], "*.json")
    put("task_qa", "korquad_train_training", b"\x80" + (FIX / "tasks/korquad/KorQuAD_v1.0_train.json").read_bytes())

    # score: flags (nsmc, korsts, naver-ner, korquad, cola, hate-speech) + gold SEP predictions.
    def column(path, name, quoted=False):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter="\t",
                               quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE))
        i = rows[0].index(name)
        return "\n".join(r[i] for r in rows[1:] if r) + "\n"
    gold = FIX / "tasks/nsmc/ratings_test.txt"
    put("score", "nsmc", b"\x00" + gold.read_bytes() + SEP + column(gold, "label").encode())
    gold = FIX / "tasks/korsts/sts-dev.tsv"
    put("score", "korsts", b"\x01" + gold.read_bytes() + SEP + column(gold, "score").encode())
    gold = FIX / "tasks/naver-ner/test.tsv"
    tags = "\n".join(line.split("\t")[1] for line in gold.read_text().splitlines() if "\t" in line) + "\n"
    put("score", "naver_ner", b"\x02" + gold.read_bytes() + SEP + tags.encode())
    gold = FIX / "tasks/korquad/KorQuAD_v1.0_dev.json"
    answers = {q["id"]: q["answers"][0]["text"] for a in json.loads(gold.read_text())["data"]
               for p in a["paragraphs"] for q in p["qas"]}
    put("score", "korquad", b"\x03" + gold.read_bytes() + SEP + json.dumps(answers, ensure_ascii=False).encode())
    gold = FIX / "tasks/cola/dev.tsv"
    labels = "\n".join(line.split("\t")[1] for line in gold.read_text().splitlines() if line) + "\n"
    put("score", "cola", b"\x04" + gold.read_bytes() + SEP + labels.encode())
    gold = FIX / "tasks/hate-speech/val.tsv"
    put("score", "hate_speech", b"\x05" + gold.read_bytes() + SEP + column(gold, "hate").encode())

    # results.json.
    for f in sorted((FIX / "leaderboard/runs").rglob("results.json")):
        put("results_json", "_".join(f.relative_to(FIX / "leaderboard/runs").parts[:-1]), f.read_bytes())

    # HTTP answers of the hub: flags (file asked for) + the header block.
    commit = b"0123456789abcdef0123456789abcdef01234567"
    put("hub_http", "config_200", b"\x00HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: \"a1b2c3\"\r\n"
        b"X-Repo-Commit: " + commit + b"\r\nContent-Length: 347\r\n\r\n")
    put("hub_http", "lfs_302", b"\x01HTTP/2 302\r\nlocation: https://cdn.test/lfs/abc?x=1\r\nx-linked-etag: "
        b"\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\r\nx-linked-size: 1313048\r\n"
        b"x-repo-commit: " + commit + b"\r\netag: W/\"12-abc\"\r\n\r\n")
    put("hub_http", "entry_404", b"\x01HTTP/1.1 404 Not Found\r\nX-Error-Code: EntryNotFound\r\nX-Repo-Commit: " + commit +
        b"\r\nX-Error-Message: Entry not found\r\n\r\n")
    put("hub_http", "gated_403", b"\x00HTTP/1.1 403 Forbidden\r\nX-Error-Code: GatedRepo\r\n\r\n")
    put("hub_http", "redirect_then_206", b"\x02HTTP/1.1 307 Temporary Redirect\r\nLocation: /org/model/resolve/main/vocab.txt\r\n"
        b"\r\nHTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100-199/200\r\nETag: \"e\"\r\nX-Repo-Commit: " + commit +
        b"\r\nContent-Length: 100\r\n\r\n")


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    main()
