#!/usr/bin/python3
"""real_import.py - (re)build tests/real/cases/ from published configs, recording where each came from.

Run once by hand with the public repositories fetched locally (the search tool's `fetch` puts them
under /work/.mirror/OWNER+NAME/repo); the test suite never runs this, it reads the committed files.

Per case it writes tests/real/cases/NAME/:
  upstream.json | upstream.yaml   the published bytes (HF config) or published YAML, unchanged
  config.json | params.yaml       the same with ONLY the size fields shrunk (hidden size, layers,
                                  heads, kv heads/groups, vocab, intermediate/filter size, learned
                                  position tables, image/patch size), so tiny random weights fit
  case.json                       model family and direction (a BASED case: only this, naming the
                                  base case whose published file it converts as another family)
and tests/real/SOURCES.tsv: case, repository, commit, path (and the key for preset tables).
Rows of SOURCES.tsv for cases this script does not list (added by hand) are kept, as are their cases.
usage: real_import.py [--mirror MIRROR_ROOT] [CASE...]   (no CASE: every case listed below)
"""
import ast
import copy
import json
import os
import subprocess
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "real")
ARGS = sys.argv[1:]
MIRROR = ARGS[ARGS.index("--mirror") + 1] if "--mirror" in ARGS else "/work/.mirror"
ONLY = {a for i, a in enumerate(ARGS) if not a.startswith("--") and (i == 0 or ARGS[i - 1] != "--mirror")}

MLC = ("mlc-ai/mlc-llm", "79d603f085f50500e9509fa01785ffa7ecfaaa93", "python/mlc_llm/model/model_preset.py")
MZ = "Cerebras/modelzoo"
MZ_210 = "f1fd1e0"   # Release_2.10.0
MZ_231 = "e8ab064"   # RELEASE_2.3.1 (older flat layout: train_input / model / optimizer at the top)
MZ_220 = "f9082c5"   # Release_2.2.0 (flat layout; DPO's params name the model trained in model_name)
MZ_230 = "b5dc4b1"   # RELEASE_2.3.0
MZ_240 = "c8e03a5"   # RELEASE_2.4.0 (the trainer layout; DPO nests the model trained in policy_model)
MZ_243 = "8a80b37"   # RELEASE_2.4.3 (the last release that ships the Cerebras-GPT / gpt3 sparsity params)
NLP = "src/cerebras/modelzoo/models/nlp/"
MM = "src/cerebras/modelzoo/models/multimodal/"

# (case, model family, preset key in mlc-llm's MODEL_PRESETS)
HF = [
    ("hf-llama2-7b", "llama", "llama2_7b"), ("hf-llama2-13b", "llama", "llama2_13b"),
    ("hf-llama2-70b", "llama", "llama2_70b"), ("hf-codellama-7b", "llama", "codellama_7b"),
    ("hf-codellama-34b", "llama", "codellama_34b"), ("hf-tinyllama-chat-v1.0", "llama", "tinyllama_1b_chat_v1.0"),
    ("hf-tinyllama-chat-v0.4", "llama", "tinyllama_1b_chat_v0.4"), ("hf-llama3.1-8b", "llama", "llama3_1_8b"),
    ("hf-llama3.1-70b", "llama", "llama3_1_70b"), ("hf-llama3.2-1b", "llama", "llama3_2_1b"),
    ("hf-llama3.2-3b", "llama", "llama3_2_3b"), ("hf-smollm2-135m", "llama", "smollm2_135m"),
    ("hf-smollm2-360m", "llama", "smollm2_360m"), ("hf-smollm-1.7b", "llama", "smollm_1_7b"),
    ("hf-mistral-7b-v0.3", "mistral", "mistral_7b_v03"), ("hf-mixtral-8x7b-v0.1", "mixtral", "Mixtral-8x7B-v0.1"),
    ("hf-qwen2-0.5b", "qwen2", "qwen2_0_5b"), ("hf-qwen2-1.5b", "qwen2", "qwen2_1_5b"),
    ("hf-qwen2-7b", "qwen2", "qwen2_7b"), ("hf-qwen2.5-3b", "qwen2", "qwen2.5_3b"),
    ("hf-gpt2", "gpt2", "gpt2"), ("hf-gpt2-medium", "gpt2", "gpt2_medium"),
    ("hf-bert-snowflake-arctic-embed-m", "dragon", "snowflake-arctic-embed-m"),
    ("hf-codellama-13b", "llama", "codellama_13b"), ("hf-smollm-135m", "llama", "smollm_135m"),
    ("hf-smollm-360m", "llama", "smollm_360m"), ("hf-qwen1.5-1.8b-chat", "qwen2", "qwen2"),
    ("hf-gpt-bigcode", "starcoder", "gpt_bigcode"),
    ("hf-gemma2-2b", "gemma2", "gemma2_2b"), ("hf-gemma2-27b", "gemma2", "gemma2_27b"),
    ("hf-gemma2-9b", "gemma2", "gemma2_9b"), ("hf-gemma2-2b-jpn", "gemma2", "gemma2_2b-jpn"),
    ("hf-mistral-7b-headless", "mistral-headless", "mistral_7b"),
    ("hf-redpajama-3b-v1", "gpt-neox", "redpajama_3b_v1"), ("hf-gpt-j-6b", "gptj", "gpt_j"),
]
# (case, model family, repository, commit, path): an HF config.json published in a repository
HF_FILES = [
    ("hf-codegen-350m-mono", "codegen", "salesforce/CodeGen", "bfdb8602ee6fce2a507e35c53ee6bbb2c887f3e2",
     "checkpoints/codegen-350M-mono/config.json"),
    ("hf-codegen-2b-multi", "codegen", "salesforce/CodeGen", "ff4c12ca4c94ea033d9cac8722b55bb49fccde9f",
     "checkpoints/codegen-2B-multi/config.json"),
    # tiiuae/falcon-40b as first published (remote code: model_type RefinedWeb, n_head_kv groups),
    # from a GitHub copy of the Hub repository
    ("hf-falcon-40b", "falcon", "Decentralised-AI/falcon-40b", "e7950c40d6bc9caca678af160de9c79f33f93699", "config.json"),
    # tiiuae/falcon-7b-instruct from a GitHub copy of the Hub repository's whole history: the remote-code
    # RefinedWebModel config (multi_query, one LayerNorm) as published in May 2023, and the in-library
    # FalconForCausalLM config (model_type falcon, new_decoder_architecture false) it moved to in Sept. 2023
    ("hf-falcon-7b-instruct-rw", "falcon", "WasimAkramShaikh/falcon-7b-instruct-clone",
     "9cbb1610be271fd06576e7e00f60e75612d53a4d", "config.json"),
    ("hf-falcon-7b-instruct", "falcon", "WasimAkramShaikh/falcon-7b-instruct-clone",
     "cf4b3c42ce2fdfe24f753f0f0d179202fea59c99", "config.json"),
    # databricks/dolly-v2-3b (GPT-NeoX: Pythia-2.8B fine-tuned; custom_pipelines) and dolly-v1-6b (GPT-J 6B
    # fine-tuned), from GitHub copies of the Hub repositories
    ("hf-dolly-v2-3b", "gpt-neox", "gitafolabi/dolly-v2-3b", "99a08f3f7cebb9b708380a7b08cde6277edd44b9", "config.json"),
    # a Pythia-410M fine-tune as transformers 4.48's save_pretrained writes a GPTNeoXConfig: beside rotary_pct /
    # rotary_emb_base it writes partial_rotary_factor / rope_theta (the same values), attention_bias,
    # attention_dropout, hidden_dropout, classifier_dropout, rope_scaling
    ("hf-pythia-410m-chatbot", "gpt-neox", "Avent-IQ/pythia-410m-chatbot", "4d0c04e7fd3205a85bc341d2a91f05ded81e140d",
     "config.json"),
    # WizardLM/WizardCoder-15B-V1.0 (StarCoder fine-tuned) as TheBloke's GPTQ repository ships it (GitHub copy):
    # StarCoder's GPTBigCode config with its inference-server keys (inference_runner, max_batch_size, ...)
    ("hf-wizardcoder-15b", "starcoder", "Decentralised-AI/WizardCoder-15B-1.0-GPTQ",
     "445671d36324e41ca7a0e29fd246a32f51a4dc71", "config.json"),
    ("hf-dolly-v1-6b", "gptj", "MikeRalphson/dolly-v1-6b", "e50f928517528b733721490cecfd6e22f2635466", "config.json"),
    # bigscience/bloom (176B) as Petals ships it for its converter (no architectures: model_type says bloom)
    ("hf-bloom-176b", "bloom", "bigscience-workshop/petals", "a798ea04a6a4abd9d3300693dbf212f86f01e795", "cli/config.json"),
    # a BLOOM 1B7 BloomModel (headless) config.json, the notebook autosave Jupyter kept of it in
    # BigScience's Megatron-DeepSpeed repository
    ("hf-bloom-1b7-bloommodel", "bloom-headless", "bigscience-workshop/Megatron-DeepSpeed",
     "2af7428dc3d9f09f94378aaeeedfa7657ae48392", "bloom_tokenizer/.ipynb_checkpoints/config-checkpoint.json"),
]
# (case, model family, repository, commit, path, more case.json fields): issue 15's encoder families, HF side
HF_ENCODER_FILES = [
    # bert-base-uncased / -cased as the Hub publishes them: the config names BertForMaskedLM, the
    # weights are Google's pretraining checkpoints (pooler, MLM and NSP heads: BertForPreTraining's keys)
    ("hf-bert-base-uncased", "bert", "cyx576/111", "b4d8c834719d475f82a004db9925b406d81310c0",
     "models/bert-base-uncased/config.json", {"hf_class": "BertForPreTraining"}),
    ("hf-bert-base-cased", "bert", "Jazzssmine/Tweet-hate", "ce90f03b9b91fc25732b45ad7612f4547f7c07cd",
     "bert-base-cased/config.json", {"hf_class": "BertForPreTraining"}),
    # bert-base-uncased fine-tuned for classification (save_pretrained of transformers 4.10, problem_type)
    ("hf-bert-base-uncased-classifier", "bert-sequence-classifier", "lukyanchikov/NLP",
     "02f5c09f80506a71070662ded48823d5607e3b72", "bert-base-uncased/config.json", {}),
    # bert-large-uncased-whole-word-masking-finetuned-squad (the Hub's config, transformers 2.x era)
    ("hf-bert-large-wwm-squad", "bert-qa", "rohitgandikota/bert-qa", "352dedd0af15da4ca120aa00ba0911c1e8aa911d",
     "bert-large-uncased-whole-word-masking-finetuned-squad/config.json", {"pass_model": True}),  # CS has no QA model name
    # the same model's config in Google's bert_config.json form (no model_type, architectures, layer_norm_eps)
    ("hf-bert-large-wwm-squad-google", "bert-qa", "tanvgen/pdf_qa_flask", "c820c395b84faa4d9ffcb6ff0ce9c4041a340cd1",
     "model/bert-large-uncased-whole-word-masking-finetuned-squad/config.json",
     {"pass_model": True, "hf_class": "BertForQuestionAnswering"}),
    # dslim/bert-base-NER re-saved by transformers 4.46 (9 labels, the old `_num_labels` and `output_past` kept)
    ("hf-bert-base-ner", "bert-token-classifier", "Sayak86/QTS-Email-Data-Extraction",
     "dd0f82e99aa2f78bd3c757f62004770319d46a9b", "models/bert-base-NER/config.json", {}),
    # klue/roberta-base (a copy of the Hub repository): RobertaForMaskedLM, BertTokenizer
    ("hf-klue-roberta-base", "roberta", "sunghyun003/consult-boosting-ner", "310534e2c91da4fd44a12d61b7b3170c1f4e0628",
     "models/roberta-base/config.json", {}),
    # roberta-base's config as pytorch-transformers 1.x published it (2019): no model_type, architectures
    # nor token ids (RobertaConfig's defaults hold); the weights are RobertaForMaskedLM's
    ("hf-roberta-base-2019", "roberta", "AYaroshevskii/Tweet-Sentiment", "21be2ab2f22ca17d71abbd0e009168ceea658dc9",
     "roberta-base/config.json", {"hf_class": "RobertaForMaskedLM"}),
    # facebook/esm2_t6_8M_UR50D and esm2_t12_35M_UR50D as save_pretrained (transformers 4.45) writes them
    ("hf-esm2-t6-8m", "esm-2", "Field-Lin/PROTEUS", "269c41f8d5c1e1577c62acee94fd5ba84c074531",
     "esm2_t6_8M_UR50D/config.json", {}),
    ("hf-esm2-t12-35m", "esm-2", "Field-Lin/PROTEUS", "269c41f8d5c1e1577c62acee94fd5ba84c074531",
     "esm2_t12_35M_UR50D/config.json", {}),
]
# (case, model family, commit, path)
CS = [
    ("cs-llama2-7b", "llama", MZ_210, NLP + "llama/configs/params_llama2_7b.yaml"),
    ("cs-llama2-13b", "llama", MZ_210, NLP + "llama/configs/params_llama2_13b.yaml"),
    ("cs-llama2-70b", "llama", MZ_210, NLP + "llama/configs/params_llama2_70b.yaml"),
    ("cs-code-llama-7b", "llama", MZ_210, NLP + "llama/configs/params_code_llama_7b.yaml"),
    ("cs-code-llama-70b", "llama", MZ_210, NLP + "llama/configs/params_code_llama_70b.yaml"),
    ("cs-llama3p1-8b-msl-8k", "llama", MZ_210, NLP + "llama/configs/params_llama3p1_8b_msl_8k.yaml"),
    ("cs-llama3p1-8b-swa-sink", "llama", MZ_210, NLP + "llama/configs/params_llama3p1_8b_msl_32k_swa_8k_sink_512.yaml"),
    ("cs-llama3p2-1b-msl-8k", "llama", MZ_210, NLP + "llama/configs/params_llama3p2_1b_msl_8k.yaml"),
    ("cs-llama3p3-70b-msl-128k", "llama", MZ_210, NLP + "llama/configs/params_llama3p3_70b_msl_128k.yaml"),
    ("cs-mistral-7b-msl128k", "mistral", MZ_210, NLP + "mistral/configs/params_mistral_7B_msl128k.yaml"),
    ("cs-mixtral-8x7b", "mixtral", MZ_210, NLP + "mixtral/configs/params_mixtral_8x7b.yaml"),
    ("cs-moe-111m-base", "mixtral", MZ_210, NLP + "mixtral/configs/params_moe_111M_base.yaml"),
    ("cs-llava-v1p5-7b-phase1", "llava", MZ_210, MM + "llava/configs/params_llava_v1p5_pretrain_7b_phase1_MSL2K.yaml"),
    ("cs-llava-v1p5-7b-phase2", "llava", MZ_210, MM + "llava/configs/params_llava_v1p5_pretrain_7b_phase2_MSL2K.yaml"),
    ("cs-dpr-base-nq", "dragon", MZ_210, NLP + "dpr/configs/params_dpr_base_nq.yaml"),
    ("cs-r231-llama3-8b", "llama", MZ_231, NLP + "llama/configs/params_llama3_8b.yaml"),
    ("cs-r231-llama3-70b", "llama", MZ_231, NLP + "llama/configs/params_llama3_70b.yaml"),
    ("cs-r231-code-llama-13b", "llama", MZ_231, NLP + "llama/configs/params_code_llama_13b.yaml"),
    ("cs-r231-code-llama-34b", "llama", MZ_231, NLP + "llama/configs/params_code_llama_34b.yaml"),
    ("cs-r231-gpt2-small", "gpt2", MZ_231, NLP + "gpt2/configs/params_gpt2_small.yaml"),
    ("cs-r231-gpt2-large", "gpt2", MZ_231, NLP + "gpt2/configs/params_gpt2_large.yaml"),
    ("cs-r231-gpt2-xl", "gpt2", MZ_231, NLP + "gpt2/configs/params_gpt2_xl.yaml"),
    ("cs-r231-llava-7b-phase1-v2", "llava", MZ_231, MM + "llava/configs/params_llava_v1p5_pretrain_7b_phase1_MSL2K_v2.yaml"),
    ("cs-wizardlm-13b", "llama", MZ_210, NLP + "llama/configs/params_wizardlm_13b.yaml"),
    ("cs-mistral-7b", "mistral", MZ_243, NLP + "mistral/configs/params_mistral_7B.yaml"),
    ("cs-mistral-12b", "mistral", MZ_210, NLP + "mistral/configs/params_mistral_12b.yaml"),
    ("cs-mixtral-8x22b", "mixtral", MZ_210, NLP + "mixtral/configs/params_mixtral_8x22b.yaml"),
    ("cs-moe-111m-shared-expert", "mixtral", MZ_210, NLP + "mixtral/configs/params_moe_111M_with_shared_expert.yaml"),
    ("cs-llava-v1p5-13b-phase1", "llava", MZ_210, MM + "llava/configs/params_llava_v1p5_pretrain_13b_phase1_MSL2K.yaml"),
    ("cs-llava-v1p5-13b-phase2", "llava", MZ_210, MM + "llava/configs/params_llava_v1p5_pretrain_13b_phase2_MSL2K.yaml"),
    ("cs-gpt3-xl", "gpt2", MZ_210, NLP + "gpt3/configs/params_gpt3_xl.yaml"),
    ("cs-cerebras-gpt-111m", "gpt2", MZ_243, NLP + "gpt3/configs/Cerebras_GPT/111m.yaml"),
    ("cs-cerebras-gpt-1p3b", "gpt2", MZ_243, NLP + "gpt3/configs/Cerebras_GPT/1p3b.yaml"),
    ("cs-cerebras-gpt-111m-mup", "gpt2", MZ_243, NLP + "gpt3/configs/Cerebras_GPT/111m_mup.yaml"),
    ("cs-gpt3-40m-mup", "gpt2", MZ_243, NLP + "gpt3/configs/muP/params_gpt3_40M.yaml"),
    ("cs-gpt3-125m-static75", "gpt2", MZ_243, NLP + "gpt3/configs/sparsity/pretraining/params_gpt3_125m_static75.yaml"),
    ("cs-gptj-6b", "gptj", MZ_210, NLP + "gptj/configs/params_gptj_6B.yaml"),
    ("cs-gptj-6b-mup", "gptj", MZ_210, NLP + "gptj/configs/params_gptj_6B_muP.yaml"),
    ("cs-gptj-6b-as-codegen", "codegen", MZ_210, NLP + "gptj/configs/params_gptj_6B.yaml"),
    ("cs-falcon-7b", "falcon", MZ_210, NLP + "falcon/configs/params_falcon_7b.yaml"),
    ("cs-falcon-40b", "falcon", MZ_210, NLP + "falcon/configs/params_falcon_40b.yaml"),
    ("cs-falcon-180b", "falcon", MZ_210, NLP + "falcon/configs/params_falcon_180b.yaml"),
    ("cs-bert-base-msl128", "bert", MZ_210, NLP + "bert/configs/bert_base_MSL128.yaml"),
    ("cs-bert-large-msl512", "bert", MZ_210, NLP + "bert/configs/bert_large_MSL512.yaml"),
    ("cs-bert-large-msl512-mup", "bert", MZ_210, NLP + "bert/configs/bert_large_MSL512_muP.yaml"),
    ("cs-bert-base-classifier-sst2", "bert-sequence-classifier", MZ_210,
     NLP + "bert/classifier/configs/bert_base_classifier_sst2.yaml"),
    ("cs-bert-large-classifier-mnli", "bert-sequence-classifier", MZ_210,
     NLP + "bert/classifier/configs/bert_large_classifier_mnli.yaml"),
    ("cs-bert-base-ner-bc5cdr-chem", "bert-token-classifier", MZ_210,
     NLP + "bert/token_classifier/configs/bert_base_ner_bc5cdr_chem.yaml"),
    ("cs-roberta-large", "roberta", MZ_210, NLP + "bert/configs/roberta_large.yaml"),
    ("cs-esm2-t12-35m", "esm-2", MZ_210, NLP + "esm2/configs/params_esm2_t12_35M_UR50D.yaml"),
    ("cs-esm2-t33-650m", "esm-2", MZ_210, NLP + "esm2/configs/params_esm2_t33_650M_UR50D.yaml"),
    ("cs-esm2-t33-650m-vsl", "esm-2", MZ_210, NLP + "esm2/configs/params_esm2_t33_650M_UR50D_vsl.yaml"),
    ("cs-t5-3b", "t5", MZ_210, NLP + "t5/configs/t5_3B.yaml"),
    ("cs-t5-11b", "t5", MZ_210, NLP + "t5/configs/t5_11B.yaml"),
    ("cs-t5-11b-mup", "t5", MZ_210, NLP + "t5/configs/t5_11B_muP.yaml"),
    ("cs-transformer-base", "t5", MZ_210, NLP + "transformer/configs/transformer_base.yaml"),
    ("cs-vit-base-patch16", "clip-vit", MZ_210, "src/cerebras/modelzoo/models/vision/vision_transformer/configs/params_vit_base_patch_16_imagenet_1k.yaml"),
    ("cs-vit-huge-patch16", "clip-vit", MZ_210, "src/cerebras/modelzoo/models/vision/vision_transformer/configs/params_vit_huge_patch_16_imagenet_1k.yaml"),
    ("cs-mmsimple-llava-7b-phase1", "mmsimple-llava", MZ_210,
     MM + "multimodal_simple/configs/params_mm_llava_llama2_7b_phase1.yaml"),
    ("cs-mmsimple-llava-7b-phase2", "mmsimple-llava", MZ_210,
     MM + "multimodal_simple/configs/params_mm_llava_llama2_7b_phase2.yaml"),
    ("cs-santacoder-1b", "santacoder", MZ_210, NLP + "santacoder/configs/params_santacoder_1b.yaml"),
    ("cs-r231-santacoder-1b", "santacoder", MZ_231, NLP + "santacoder/configs/params_santacoder_1b.yaml"),
    ("cs-starcoder-15b", "starcoder", MZ_210, NLP + "starcoder/configs/params_starcoder_15b.yaml"),
    ("cs-octocoder-15b", "starcoder", MZ_210, NLP + "starcoder/configs/params_octocoder_15b.yaml"),
    ("cs-wizardcoder-15b", "starcoder", MZ_210, NLP + "starcoder/configs/params_wizardcoder_15b.yaml"),
    ("cs-sqlcoder-15b", "starcoder", MZ_210, NLP + "starcoder/configs/params_sqlcoder_15b.yaml"),
    ("cs-gemma2-9b", "gemma2", MZ_210, NLP + "gemma2/configs/params_gemma2_9b_msl8k.yaml"),
    ("cs-gemma2-27b", "gemma2", MZ_210, NLP + "gemma2/configs/params_gemma2_27b_msl8k.yaml"),
    ("cs-gpt-neox-20b", "gpt-neox", MZ_243, NLP + "gptj/configs/params_gpt_neox_20B.yaml"),
    ("cs-r231-gpt-neox-1p3b", "gpt-neox", MZ_231, NLP + "gptj/configs/params_gpt_neox_1p3b.yaml"),
    ("cs-r231-gpt-neox-small", "gpt-neox", MZ_231, NLP + "gptj/configs/params_gpt_neox_small.yaml"),
    ("cs-bloom-7b", "bloom", MZ_210, NLP + "bloom/configs/params_bloom_7b.yaml"),
    ("cs-r231-bloom-7b", "bloom", MZ_231, NLP + "bloom/configs/params_bloom_7b.yaml"),
    ("cs-btlm-2p7b-2k", "btlm", MZ_210, NLP + "btlm/configs/params_btlm_2p7b_2k.yaml"),
    ("cs-btlm-2p7b-8k", "btlm", MZ_210, NLP + "btlm/configs/params_btlm_2p7b_8k.yaml"),
    ("cs-jais-13b", "jais", MZ_210, NLP + "jais/configs/params_jais_13b.yaml"),
    ("cs-jais-13b-chat", "jais", MZ_210, NLP + "jais/configs/params_jais_13b_chat.yaml"),
    ("cs-jais-30b", "jais", MZ_210, NLP + "jais/configs/params_jais_30b.yaml"),
    ("cs-gptj-6b-trc2", "gptj", MZ_210, NLP + "gptj/continuous_pretraining/configs/params_gptj_6B_TRC2.yaml"),
    ("cs-dpo-zephyr-7b", "dpo", MZ_210, NLP + "dpo/configs/params_zephyr_7b_dpo.yaml"),
    # the same file's other published versions: the model section flat beside dpo with model_name
    # (2.2.0; 2.2.1 and 2.3.0 change only eval settings, 2.3.0 kept), nested in policy_model with the
    # deprecated precision keys beside it (2.4.0; 2.5.0 ... 2.10.0 drop those: the case above)
    ("cs-dpo-zephyr-7b-r220", "dpo", MZ_220, NLP + "dpo/configs/params_zephyr_7b_dpo.yaml"),
    ("cs-dpo-zephyr-7b-r230", "dpo", MZ_230, NLP + "dpo/configs/params_zephyr_7b_dpo.yaml"),
    ("cs-dpo-zephyr-7b-r240", "dpo", MZ_240, NLP + "dpo/configs/params_zephyr_7b_dpo.yaml"),
]

# HF cases from published config.json files: (case, model family, {component dir ("": the case
# directory itself): (repository, commit, path)}, more case.json fields)
HF_COMPONENTS = [
    # LLaVA-1.5 with a whole CLIPModel config (openai/clip-vit-large-patch14, the Hub repository's
    # config.json as mirrored on GitHub) as its image model: issue 15
    ("hf-llava-v1.5-7b-clipmodel", "llava", {
        "image_model": ("ourml/clip-vit-large-patch14", "32bd64288804d66eefd0ccbe215aa642df71cc41", "config.json"),
        "text_model": ("ymtuan/NTU-2025-Fall-DLCV", "7b4f4a2eef447eb537704f15166826558cc1aa64", "llava-v1.5-7b/config.json"),
    }, {"dropped": ["text_model.", "text_projection.", "visual_projection.", "logit_scale"]}),  # the text tower
    # the same CLIPModel config converted as CLIP-ViT (vision tower and visual projection)
    ("hf-clip-vit-large-patch14-clipmodel", "clip-vit", {
        "": ("ourml/clip-vit-large-patch14", "32bd64288804d66eefd0ccbe215aa642df71cc41", "config.json"),
    }, {"dropped": ["text_model.", "text_projection.", "logit_scale"]}),
    # T5 as save_pretrained writes it (the tied embed_tokens / lm_head left out; the way back writes
    # them all): t5-small (tied head, relu) and google/flan-t5-large (untied head, gated-gelu)
    ("hf-t5-small", "t5", {"": ("learningexample/xformer", "5b265be215eb739254fb2b3fecc501ba2e0c9b15", "t5-small/config.json")},
     {"save_pretrained": True, "created": ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"],
      "tied": {"encoder.embed_tokens.weight": "shared.weight", "decoder.embed_tokens.weight": "shared.weight",
               "lm_head.weight": "shared.weight"}}),
    ("hf-flan-t5-large", "t5", {"": ("evanshlom/get-private-llm", "684ab7df4821f957b05e132e2d0eec283deab8d8",
                                     "flan-t5-large/config.json")},
     {"save_pretrained": True, "created": ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"],
      "tied": {"encoder.embed_tokens.weight": "shared.weight", "decoder.embed_tokens.weight": "shared.weight"}}),
    # the same LLaVA-1.5 pair as ModelZoo's multimodal_simple (--model mmsimple-llava): issue 15
    ("hf-mmsimple-llava-v1.5-7b-clipmodel", "mmsimple-llava", {
        "image_model": ("ourml/clip-vit-large-patch14", "32bd64288804d66eefd0ccbe215aa642df71cc41", "config.json"),
        "text_model": ("ymtuan/NTU-2025-Fall-DLCV", "7b4f4a2eef447eb537704f15166826558cc1aa64", "llava-v1.5-7b/config.json"),
    }, {"dropped": ["text_model.", "text_projection.", "visual_projection.", "logit_scale"]}),
    # a CLIPVisionModelWithProjection config: IP-Adapter's ViT-H/14 image encoder (gelu, not quick_gelu;
    # projection_dim 1024), as ID-Animator ships it
    ("hf-clip-vit-h14-image-encoder", "clip-vit", {
        "": ("smthemex/ComfyUI_ID_Animator", "5560fc05f2e2aa29e2c7139fe1f72b88785b873b", "models/image_encoder/config.json"),
    }, {}),
]

# (case, model family, base case): the base case's published file converted as another family. A
# headless HF model (GPTJModel, FalconModel, ...) has its CausalLM's config class, and ModelZoo's params
# name the model with a head (`--model X-headless` converts them): so each headless family runs the base
# family's real configs. case.json names the base case (real_run.py reads its config / params and
# case.json from there); SOURCES.tsv repeats the base case's row; no published file is copied twice.
BASED = [
    ("hf-llama2-7b-headless", "llama-headless", "hf-llama2-7b"),
    ("hf-codellama-7b-headless", "llama-headless", "hf-codellama-7b"),
    ("hf-gpt2-headless", "gpt2-headless", "hf-gpt2"),
    ("hf-gpt2-medium-headless", "gpt2-headless", "hf-gpt2-medium"),
    ("hf-mistral-7b-v0.3-headless", "mistral-headless", "hf-mistral-7b-v0.3"),
    ("hf-mixtral-8x7b-v0.1-headless", "mixtral-headless", "hf-mixtral-8x7b-v0.1"),
    ("cs-llama2-7b-headless", "llama-headless", "cs-llama2-7b"),
    ("cs-r231-gpt2-small-headless", "gpt2-headless", "cs-r231-gpt2-small"),
    ("cs-mistral-7b-headless", "mistral-headless", "cs-mistral-7b"),
    ("cs-mixtral-8x7b-headless", "mixtral-headless", "cs-mixtral-8x7b"),
    ("hf-bloom-176b-headless", "bloom-headless", "hf-bloom-176b"),
    ("cs-bloom-7b-headless", "bloom-headless", "cs-bloom-7b"),
    ("cs-btlm-2p7b-2k-headless", "btlm-headless", "cs-btlm-2p7b-2k"),
    ("cs-btlm-2p7b-8k-headless", "btlm-headless", "cs-btlm-2p7b-8k"),
    ("hf-codegen-350m-mono-headless", "codegen-headless", "hf-codegen-350m-mono"),
    ("hf-codegen-2b-multi-headless", "codegen-headless", "hf-codegen-2b-multi"),
    ("cs-gptj-6b-as-codegen-headless", "codegen-headless", "cs-gptj-6b-as-codegen"),
    ("hf-falcon-40b-headless", "falcon-headless", "hf-falcon-40b"),   # no tie_word_embeddings: tied
    ("hf-falcon-7b-instruct-rw-headless", "falcon-headless", "hf-falcon-7b-instruct-rw"),   # RWModel's config
    ("hf-falcon-7b-instruct-headless", "falcon-headless", "hf-falcon-7b-instruct"),
    ("cs-falcon-7b-headless", "falcon-headless", "cs-falcon-7b"),
    ("cs-falcon-180b-headless", "falcon-headless", "cs-falcon-180b"),
    ("hf-dolly-v2-3b-headless", "gpt-neox-headless", "hf-dolly-v2-3b"),
    ("hf-pythia-410m-chatbot-headless", "gpt-neox-headless", "hf-pythia-410m-chatbot"),
    ("hf-redpajama-3b-v1-headless", "gpt-neox-headless", "hf-redpajama-3b-v1"),   # refused as the base case
    ("cs-gpt-neox-20b-headless", "gpt-neox-headless", "cs-gpt-neox-20b"),
    ("cs-r231-gpt-neox-1p3b-headless", "gpt-neox-headless", "cs-r231-gpt-neox-1p3b"),
    ("hf-gpt-j-6b-headless", "gptj-headless", "hf-gpt-j-6b"),
    ("hf-dolly-v1-6b-headless", "gptj-headless", "hf-dolly-v1-6b"),
    ("cs-gptj-6b-headless", "gptj-headless", "cs-gptj-6b"),
    ("cs-gptj-6b-trc2-headless", "gptj-headless", "cs-gptj-6b-trc2"),   # its string epsilon read as its base reads it
    ("cs-santacoder-1b-headless", "santacoder-headless", "cs-santacoder-1b"),
    ("cs-r231-santacoder-1b-headless", "santacoder-headless", "cs-r231-santacoder-1b"),
    ("hf-gpt-bigcode-headless", "starcoder-headless", "hf-gpt-bigcode"),
    ("hf-wizardcoder-15b-headless", "starcoder-headless", "hf-wizardcoder-15b"),
    ("cs-starcoder-15b-headless", "starcoder-headless", "cs-starcoder-15b"),
    ("cs-octocoder-15b-headless", "starcoder-headless", "cs-octocoder-15b"),
]

HEAD = 8      # head dim after shrinking (even: RoPE pairs)
HEADS = 4


def git_show(repo, commit, path):
    d = os.path.join(MIRROR, repo.replace("/", "+"), "repo")
    full = subprocess.run(["git", "-C", d, "rev-parse", commit], capture_output=True, text=True, check=True)
    text = subprocess.run(["git", "-C", d, "show", f"{commit}:{path}"], capture_output=True, check=True).stdout
    return full.stdout.strip(), text


def kv_shrink(heads, kv):
    """keep 'all heads' as all heads and grouped attention grouped"""
    if kv is None or kv == heads:
        return HEADS if kv is not None else None
    return max(1, HEADS * kv // heads)


def shrink_gpt2_named(c):
    """BLOOM and Falcon's configs (remote-code RefinedWeb*: GPT-2-style n_head, n_layer, n_head_kv;
    transformers' falcon: num_attention_heads, num_kv_heads, ffn_hidden_size), whichever names they
    hold beside hidden_size / n_embed, and no other key added; grouped kv heads stay grouped"""
    for k in ("n_head", "num_attention_heads"):
        if k in c:
            c[k] = HEADS
    for k in ("n_layer", "num_hidden_layers"):
        if k in c:
            c[k] = 2
    for k in ("hidden_size", "n_embed"):
        if k in c:
            c[k] = HEADS * HEAD
    for k in ("n_head_kv", "num_kv_heads"):
        if c.get(k) is not None:
            c[k] = 2 if c[k] > 1 else 1
    if c.get("ffn_hidden_size") is not None:
        c["ffn_hidden_size"] = 4 * HEADS * HEAD
    c["vocab_size"] = 64
    return c


def shrink_hf(c, family=None):
    c = copy.deepcopy(c)
    if "n_embd" not in c and ("n_head" in c or "n_layer" in c or c.get("model_type") == "falcon"):
        return shrink_gpt2_named(c)
    if "n_embd" in c:  # GPT-2, GPT-J, CodeGen
        if c.get("rotary_dim") is not None:  # the rotated share of a head kept (even: RoPE pairs)
            c["rotary_dim"] = max(2, c["rotary_dim"] * HEAD // (c["n_embd"] // c["n_head"]) // 2 * 2)
        c.update(n_embd=HEADS * HEAD, n_head=HEADS, n_layer=2, vocab_size=64, n_positions=32)
        if "n_ctx" in c:
            c["n_ctx"] = 32
        if c.get("n_inner") is not None:
            c["n_inner"] = 4 * HEADS * HEAD
        return c
    heads = c["num_attention_heads"]
    kv = c.get("num_key_value_heads")
    c.update(hidden_size=HEADS * HEAD, num_attention_heads=HEADS, num_hidden_layers=2, vocab_size=64,
             intermediate_size=48)
    if kv is not None:
        c["num_key_value_heads"] = kv_shrink(heads, kv)
    if c.get("head_dim") is not None:
        c["head_dim"] = HEAD
    if c.get("model_type") == "bert" or (family or "").startswith("bert"):  # Google's form states no model_type
        c["max_position_embeddings"] = 32
    if family == "roberta" and "max_position_embeddings" in c:  # 32 positions past the padding index
        c["max_position_embeddings"] = 32 + c.get("pad_token_id", 1) + 1
    return c


def shrink_clip_tower(sub):
    """one CLIP tower's sizes, in place (only the keys it has); images of 32x32 in 8x8 patches"""
    tower = dict(hidden_size=HEADS * HEAD, num_attention_heads=HEADS, num_hidden_layers=2, intermediate_size=48)
    sub.update({n: v for n, v in tower.items() if n in sub})
    if "vocab_size" in sub:
        sub.update(vocab_size=64, max_position_embeddings=16)
    if "patch_size" in sub:
        sub["patch_size"] = 8
    if "image_size" in sub:
        sub["image_size"] = 32
    if "projection_dim" in sub:
        sub["projection_dim"] = HEADS * HEAD


def shrink_clip(c):
    """a whole CLIPModel config: both towers' sizes (and the old *_config_dict copies), the projection;
    or one vision tower (CLIPVisionModelWithProjection, model_type clip_vision_model)"""
    c = copy.deepcopy(c)
    if c.get("model_type") == "clip_vision_model":
        shrink_clip_tower(c)
        return c
    for k in ("text_config", "vision_config", "text_config_dict", "vision_config_dict"):
        if isinstance(c.get(k), dict):
            shrink_clip_tower(c[k])
    c["projection_dim"] = HEADS * HEAD
    return c


def shrink_t5(c):
    c = copy.deepcopy(c)
    c.update(d_model=HEADS * HEAD, d_kv=HEAD, num_heads=HEADS, d_ff=48, num_layers=2, vocab_size=64)
    if c.get("num_decoder_layers") is not None:
        c["num_decoder_layers"] = 2
    return c


def shrink_component(c):
    if c.get("model_type") in ("clip", "clip_vision_model"):
        return shrink_clip(c)
    if c.get("model_type") == "t5":
        return shrink_t5(c)
    c = shrink_hf(c)
    if "mm_hidden_size" in c:  # LLaVA's projector reads the (shrunk) vision tower
        c["mm_hidden_size"] = HEADS * HEAD
    return c


def import_hf_components(rows):
    for name, model, comps, extra in HF_COMPONENTS:
        out = os.path.join(ROOT, "cases", name)
        for comp, (repo, commit, path) in comps.items():
            os.makedirs(os.path.join(out, comp), exist_ok=True)
            full, text = git_show(repo, commit, path)
            write(os.path.join(out, comp, "upstream.json"), text.decode())
            cfg = shrink_component(json.loads(text))
            write(os.path.join(out, comp, "config.json"), json.dumps(cfg, indent=2) + "\n")
            rows.append(f"{name}{'/' + comp if comp else ''}\t{repo}\t{full}\t{path}\t")
        meta = {"model": model, "from": "hf"}
        if "" not in comps:
            meta["components"] = list(comps)
        write(os.path.join(out, "case.json"), json.dumps({**meta, **extra}) + "\n")


def shrink_cs_model(m, family=None):
    heads = m.get("num_heads")
    for k, v in (("hidden_size", HEADS * HEAD), ("num_heads", HEADS), ("num_hidden_layers", 2),
                 ("vocab_size", 64), ("filter_size", 48), ("d_model", HEADS * HEAD), ("d_kv", HEAD), ("d_ff", 48),
                 ("encoder_num_hidden_layers", 2), ("decoder_num_hidden_layers", 2), ("src_vocab_size", 64),
                 ("tgt_vocab_size", 64)):
        if k in m:
            m[k] = v
    if family == "bloom" and "filter_size" in m:  # HF BLOOM's MLP is 4 x hidden_size, no other width
        m["filter_size"] = 4 * HEADS * HEAD
    kv = (m.get("extra_attention_params") or {}).get("num_kv_groups")
    if kv is not None:
        m["extra_attention_params"]["num_kv_groups"] = kv_shrink(heads, kv)
    if m.get("name") == "falcon":  # keep Falcon's grouped kv heads grouped, and its MLP 4 x hidden
        if kv is not None and kv > 1:
            m["extra_attention_params"]["num_kv_groups"] = 2
        m["filter_size"] = 4 * HEADS * HEAD
    if m.get("position_embedding_type") == "learned" and "max_position_embeddings" in m:
        m["max_position_embeddings"] = 32
    if m.get("attention_inner_dim") is not None:  # attention width != hidden size: keep it different
        m["attention_inner_dim"] = HEADS * HEAD // 2
    if "rotary_dim" in m:  # the rotated part of a head: the whole head here
        m["rotary_dim"] = HEAD
    if m.get("name") == "gemma2":  # head_dim = attention_inner_dim / heads = rotary_dim; embeddings_scale = sqrt(hidden)
        m["rotary_dim"] = m["attention_inner_dim"] // m["num_heads"]
        m["embeddings_scale"] = round((HEADS * HEAD) ** 0.5, 7)
    if "image_size" in m:  # ViT: 32x32 images of 8x8 patches
        m["image_size"] = [32, 32] if isinstance(m["image_size"], list) else 32
        m["patch_size"] = [8, 8] if isinstance(m.get("patch_size"), list) else 8


def model_section(p):
    t = p.get("trainer")
    if isinstance(t, dict):
        return t["init"]["model"]
    return p["model"]


def shrink_cs(p, family=None):
    p = copy.deepcopy(p)
    m = model_section(p)
    subs = [m[k] for k in ("image_model", "text_model", "q_encoder", "ctx_encoder", "policy_model")
            if isinstance(m.get(k), dict)]
    iml = m.get("image_model_list") or {}  # multimodal_simple: the vision encoders nest in a list
    for im in iml.get("image_models") or []:
        subs += [im["image_encoder"]] if "image_encoder" in im else list(im.get("image_model") or [])
    for s in subs or [m]:
        shrink_cs_model(s, family)
    proj = ((m.get("projector") or {}).get("image_model")) or iml.get("global_image_projection")
    if proj:
        proj["input_unit"] = HEADS * HEAD
        proj["layers_units"] = [HEADS * HEAD] * len(proj["layers_units"])
    return p


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def hf_case(name, model, up, row, extra=None):
    """One HF case: the published config as upstream.json, shrunk as config.json."""
    out = os.path.join(ROOT, "cases", name)
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "upstream.json"), up if isinstance(up, str) else json.dumps(up, indent=2) + "\n")
    cfg = json.loads(up) if isinstance(up, str) else up
    write(os.path.join(out, "config.json"), json.dumps(shrink_hf(cfg, model), indent=2) + "\n")
    meta = {"model": model, "from": "hf"}
    if model == "codegen":  # CodeGen trains as the CS gptj model: its params say gptj, the user names codegen
        meta["pass_model"] = True
    if model.startswith(("bert", "roberta", "esm")):  # HF's position_ids buffer is rebuilt on the way back
        meta["created"] = ["position_ids"]
    write(os.path.join(out, "case.json"), json.dumps({**meta, **(extra or {})}) + "\n")
    return row


def old_rows():
    """SOURCES.tsv as it is: case -> row (the header left out)."""
    path = os.path.join(ROOT, "SOURCES.tsv")
    if not os.path.exists(path):
        return {}
    lines = open(path).read().splitlines()[1:]
    return {l.split("\t", 1)[0]: l for l in lines if l}


def main():
    want = lambda name: not ONLY or name in ONLY  # noqa: E731
    rows = old_rows()  # kept unless rebuilt here: hand-added rows survive
    presets = None
    for name, model, key in HF:
        if not want(name):
            continue
        if presets is None:
            d = os.path.join(MIRROR, MLC[0].replace("/", "+"), "repo")
            src = subprocess.run(["git", "-C", d, "show", f"{MLC[1]}:{MLC[2]}"], capture_output=True, text=True,
                                 check=True).stdout
            presets = next(ast.literal_eval(n.value) for n in ast.parse(src).body if isinstance(n, ast.AnnAssign))
        rows[name] = hf_case(name, model, presets[key], f"{name}\t{MLC[0]}\t{MLC[1]}\t{MLC[2]}\tMODEL_PRESETS[{key!r}]")
    for name, model, repo, commit, path, *extra in HF_FILES + HF_ENCODER_FILES:
        if want(name):
            full, text = git_show(repo, commit, path)
            rows[name] = hf_case(name, model, text.decode(), f"{name}\t{repo}\t{full}\t{path}\t", *extra)
    for name, model, commit, path in CS:
        if not want(name):
            continue
        out = os.path.join(ROOT, "cases", name)
        os.makedirs(out, exist_ok=True)
        full, text = git_show(MZ, commit, path)
        write(os.path.join(out, "upstream.yaml"), text.decode())
        p = shrink_cs(yaml.safe_load(text), model)
        write(os.path.join(out, "params.yaml"), yaml.safe_dump(p, sort_keys=False))
        meta = {"model": model, "from": "cs"}
        if commit in (MZ_220, MZ_230, MZ_231):  # params before 2.4 have no model.name: the user names the model, as for the reference
            meta["pass_model"] = True
        if model == "codegen":  # CodeGen trains as the CS gptj model: its params say gptj, the user names codegen
            meta["pass_model"] = True
        if name == "cs-gpt-neox-20b":  # `name: gptj` (ModelZoo's GPT-J class, configured as NeoX): named by the user
            meta["pass_model"] = True
        if model.startswith(("bert", "roberta", "esm")):  # HF's position_ids buffer is rebuilt on the way back
            meta["created"] = ["position_ids"]
        if model == "dpo":  # DPO's CS formats are the releases' -dpo variants
            meta["tgt"] = "cs-2.9-dpo"
        if "mup" in name:  # CS -> HF folds the muP multipliers into the weights: values change
            meta["values"] = False
        write(os.path.join(out, "case.json"), json.dumps(meta) + "\n")
        rows[name] = f"{name}\t{MZ}\t{full}\t{path}\t"
    for name, model, base in BASED:  # after the base cases: their rows are here
        if want(name):
            with open(os.path.join(ROOT, "cases", base, "case.json")) as f:
                direction = json.load(f)["from"]
            os.makedirs(os.path.join(ROOT, "cases", name), exist_ok=True)
            write(os.path.join(ROOT, "cases", name, "case.json"),
                  json.dumps({"model": model, "from": direction, "base": base}) + "\n")
            rows[name] = name + rows[base][len(base):]
    if any(want(name) for name, _, _, _ in HF_COMPONENTS):
        comp_rows = []
        import_hf_components(comp_rows)
        rows.update((r.split("\t", 1)[0], r) for r in comp_rows)
    write(os.path.join(ROOT, "SOURCES.tsv"), "\n".join(["case\trepository\tcommit\tpath\tkey", *rows.values()]) + "\n")


if __name__ == "__main__":
    main()
