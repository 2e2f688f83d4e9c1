"""Hand-written reference completions for suites that ship none (MultiPL-E has no canonical solutions).

Each is appended to the problem's prompt, exactly like a model's completion.
"""

MBPP = {
    "mbpp_464_check_value": "    return all(v == n for v in dict.values())\n",
    "mbpp_224_count_Set_Bits": "    return bin(n).count('1')\n",
    "mbpp_80_tetrahedral_number": "    return n * (n + 1) * (n + 2) // 6\n",
    "mbpp_804_is_product_even": "    return any(x % 2 == 0 for x in arr)\n",
    "mbpp_172_count_occurance": "    return s.count('std')\n",
}

CPP = {
    "HumanEval_0_has_close_elements": (
        "    for (size_t i = 0; i < numbers.size(); i++)\n"
        "        for (size_t j = i + 1; j < numbers.size(); j++)\n"
        "            if (std::fabs(numbers[i] - numbers[j]) < threshold) return true;\n"
        "    return false;\n"
    ),
    "HumanEval_2_truncate_number": "    return number - (long)number;\n",
    "HumanEval_23_strlen": "    return string.size();\n",
    "HumanEval_53_add": "    return x + y;\n",
    "HumanEval_56_correct_bracketing": (
        "    int depth = 0;\n"
        "    for (char c : brackets) {\n"
        "        depth += (c == '<') ? 1 : -1;\n"
        "        if (depth < 0) return false;\n"
        "    }\n"
        "    return depth == 0;\n"
    ),
}

JAVA = {
    "HumanEval_0_has_close_elements": (
        "        for (int i = 0; i < numbers.size(); i++)\n"
        "            for (int j = i + 1; j < numbers.size(); j++)\n"
        "                if (Math.abs(numbers.get(i) - numbers.get(j)) < threshold) return true;\n"
        "        return false;\n"
    ),
    "HumanEval_2_truncate_number": "        return number - (long) number;\n",
    "HumanEval_23_strlen": "        return string.length();\n",
    "HumanEval_53_add": "        return x + y;\n",
    "HumanEval_56_correct_bracketing": (
        "        int depth = 0;\n"
        "        for (char c : brackets.toCharArray()) {\n"
        "            depth += (c == '<') ? 1 : -1;\n"
        "            if (depth < 0) return false;\n"
        "        }\n"
        "        return depth == 0;\n"
    ),
}
