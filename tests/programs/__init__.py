"""Small programs written the way people write them (classic HIPS-autograd examples in plain
numpy); tests/test_programs.py checks each gradient against finite differences."""
