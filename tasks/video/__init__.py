"""Video action recognition: decoding real video files, procedural human actions, LRCN and
ConvLSTM classifiers (`zoo.video`)."""
