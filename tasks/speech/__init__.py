"""Speech tasks: spoken digits, yes/no and connected digits (CTC), characters (CTC)."""
