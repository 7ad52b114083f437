"""Pieces of the training loop (`latentatlas.stages.train.train_run` puts them together).

    loop         prepare (check the input, data on the device, model, optimizer, resume),
                 run one epoch, evaluate on the test split
    record       the history row, checkpoint, weights, history.jsonl; figures and metrics
    devices      device choice (CUDA, MPS, CPU), threads, torch.distributed set-up
    speed        what is fast on a GPU and unchanged on a CPU: lr scaling with the batch,
                 torch.compile / CUDA graphs, reading the loss without stalling the GPU
    optim        optimizers and learning-rate schedules, chosen through latentatlas.registry
    checkpoint   one atomic safetensors file with weights, optimizer and loop state
    progress     image grids during training, the GIF and the loss curves at the end
"""
