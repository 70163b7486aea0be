"""Service orders (点单 / 接单 / 派单): one visit wanted, taken, assigned, done."""
